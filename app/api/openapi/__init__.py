"""The OpenAPI document: operations declared beside each view, the JSON shapes, and /docs."""
