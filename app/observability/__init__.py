"""Metrics and logs: what the service tells its operators about itself.

Nothing here imports prometheus_client at package import: the gunicorn master imports this
package before it sets PROMETHEUS_MULTIPROC_DIR (see ``multiprocess.py``).
"""
