"""The media library over HTTP: upload images and videos once, attach them to posts by id."""
