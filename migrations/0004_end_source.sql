-- Who ended a play the listener ended: the player's keys, the desktop's media keys and widgets
-- (MPRIS), or the headless player's stdin. NULL for plays that finished, failed, were quit or
-- interrupted, and for every play logged before this version.

ALTER TABLE plays ADD COLUMN end_source TEXT CHECK (end_source IN ('key', 'mpris', 'stdin'));
