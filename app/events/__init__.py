"""Log events with stable type codes, stored and sent to every ``track_event`` hook."""
