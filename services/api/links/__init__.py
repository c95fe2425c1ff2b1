"""Links over HTTP: UTM presets and short-link settings, each delivery's short links, and the redirects."""
