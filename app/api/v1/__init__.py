"""The v1 protocol: /predict with uploads (multipart, urlencoded, JSON) and model metadata."""
