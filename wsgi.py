"""WSGI entry point: ``gunicorn -c config/gunicorn.conf.py wsgi:app``."""

# Importing app fixes the thread pools' sizes before anything loads numpy (app/threads.py).
from app import create_app

# Models load in a thread so the health routes answer while they do.
app = create_app(load_in_thread=True)
