"""Links in posts: UTM presets per workspace or channel, and Crier's own short links that count clicks."""
