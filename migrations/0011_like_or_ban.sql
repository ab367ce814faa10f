-- A track is liked or banned, never both: of the two, the one said last stands. A like or ban
-- given now takes the other back; one with an older time (an imported like of a track banned
-- since) is dropped. Marks that already disagree keep the later one.

DELETE FROM likes
WHERE EXISTS (SELECT 1 FROM bans WHERE bans.track_id = likes.track_id AND bans.banned_at >= likes.liked_at);
DELETE FROM bans
WHERE EXISTS (SELECT 1 FROM likes WHERE likes.track_id = bans.track_id AND likes.liked_at > bans.banned_at);

CREATE TRIGGER a_like_older_than_its_ban_is_dropped BEFORE INSERT ON likes
WHEN EXISTS (SELECT 1 FROM bans WHERE track_id = NEW.track_id AND banned_at > NEW.liked_at)
BEGIN
    SELECT RAISE(IGNORE);
END;

CREATE TRIGGER a_like_takes_back_the_ban AFTER INSERT ON likes
BEGIN
    DELETE FROM bans WHERE track_id = NEW.track_id;
END;

CREATE TRIGGER a_ban_older_than_its_like_is_dropped BEFORE INSERT ON bans
WHEN EXISTS (SELECT 1 FROM likes WHERE track_id = NEW.track_id AND liked_at > NEW.banned_at)
BEGIN
    SELECT RAISE(IGNORE);
END;

CREATE TRIGGER a_ban_takes_back_the_like AFTER INSERT ON bans
BEGIN
    DELETE FROM likes WHERE track_id = NEW.track_id;
END;
