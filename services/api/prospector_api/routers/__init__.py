"""One router per resource: runs, replays, play, events; plus meta, health and the web page."""
