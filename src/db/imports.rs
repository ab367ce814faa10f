//! The statements of an import ([`ImportFile`], [`StagedPlay`]) and of matching plays that wait
//! for their track ([`match_waiting`]). Which plays go where is the import's decision
//! (`logio::import`); this module only reads and writes the rows.

use rusqlite::{params, Connection, OptionalExtension, Statement, Transaction};

use crate::play::EndReason;

/// One imported play, staged before it is placed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StagedPlay {
    pub import_key: String,
    pub started_at: i64,
    pub ended_at: i64,
    pub played_ms: u64,
    pub artist: String,
    pub title: String,
    pub album: Option<String>,
    pub skipped: bool,
    pub end_reason: EndReason,
}

/// One file's import. Its plays are first staged in a temporary table, so memory stays flat and
/// a malformed record leaves nothing behind: the log is not touched until the whole file has
/// been read. They are then placed in time order, in rounds of [`PLACE_ROUND`] plays, each its
/// own transaction: a running player's plays, which wait for the write lock, never wait long. An
/// import cut short between rounds leaves whole plays and sessions, and running it again places
/// the rest (a play already imported is known by its key).
pub(crate) struct ImportFile<'c> {
    conn: &'c mut Connection,
}

/// How many staged plays one transaction places.
pub(crate) const PLACE_ROUND: usize = 2_000;

impl<'c> ImportFile<'c> {
    pub(crate) fn begin(conn: &'c mut Connection) -> rusqlite::Result<Self> {
        conn.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS import_stage (
                 import_key TEXT PRIMARY KEY, started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL,
                 played_ms INTEGER NOT NULL, artist TEXT NOT NULL, title TEXT NOT NULL, album TEXT,
                 skipped INTEGER NOT NULL, end_reason TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS temp.import_stage_in_time ON import_stage (started_at, import_key);
             DELETE FROM temp.import_stage;",
        )?;
        Ok(Self { conn })
    }

    /// Stages plays through `fill`; of plays with the same key, the longest is kept.
    pub(crate) fn stage<E: From<rusqlite::Error>>(
        &mut self,
        fill: impl FnOnce(&mut Stager<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        // Only the temporary table is written: the log's write lock is not taken.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
        {
            let mut stager = Stager {
                staged: tx.prepare("SELECT 1 FROM temp.import_stage WHERE import_key = ?1")?,
                // One play reported twice (Spotify logs it from each device of a Connect session,
                // one of them often with a few ms): the report of the longest listening is the play.
                insert: tx.prepare(
                    "INSERT INTO temp.import_stage
                     (import_key, started_at, ended_at, played_ms, artist, title, album, skipped, end_reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (import_key) DO UPDATE SET
                         started_at = excluded.started_at, ended_at = excluded.ended_at,
                         played_ms = excluded.played_ms, album = excluded.album,
                         skipped = excluded.skipped, end_reason = excluded.end_reason
                     WHERE excluded.played_ms > import_stage.played_ms",
                )?,
            };
            fill(&mut stager)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// How many plays are staged.
    pub(crate) fn staged(&self) -> rusqlite::Result<u64> {
        self.conn
            .query_row("SELECT count(*) FROM temp.import_stage", [], |r| r.get(0))
    }

    /// Calls `each` with every staged play, in time order, and the statements that write it,
    /// round by round (see [`ImportFile`]); the stage is emptied at the end.
    pub(crate) fn place<E: From<rusqlite::Error>>(
        &mut self,
        mut each: impl FnMut(&mut Placer<'_>, StagedPlay) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut after: Option<(i64, String)> = None;
        loop {
            let tx = self.conn.transaction()?;
            let round = staged_after(&tx, after.as_ref())?;
            let Some(last) = round.last() else { break };
            after = Some((last.started_at, last.import_key.clone()));
            {
                let mut placer = Placer::new(&tx)?;
                for play in round {
                    each(&mut placer, play)?;
                }
            }
            tx.commit()?;
        }
        self.conn.execute_batch("DELETE FROM temp.import_stage;")?;
        Ok(())
    }
}

/// The next round of staged plays after `after` (a start time and key), in time order.
fn staged_after(conn: &Connection, after: Option<&(i64, String)>) -> rusqlite::Result<Vec<StagedPlay>> {
    let (started_at, key) = after.map_or((i64::MIN, ""), |(at, key)| (*at, key.as_str()));
    let mut staged = conn.prepare_cached(
        "SELECT import_key, started_at, ended_at, played_ms, artist, title, album, skipped, end_reason
         FROM temp.import_stage WHERE (started_at, import_key) > (?1, ?2)
         ORDER BY started_at, import_key LIMIT ?3",
    )?;
    let mut rows = staged.query(params![started_at, key, PLACE_ROUND as i64])?;
    let mut round = Vec::with_capacity(PLACE_ROUND);
    while let Some(row) = rows.next()? {
        let end_reason: String = row.get(8)?;
        let end_reason = EndReason::parse(&end_reason).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, end_reason.into())
        })?;
        round.push(StagedPlay {
            import_key: row.get(0)?,
            started_at: row.get(1)?,
            ended_at: row.get(2)?,
            played_ms: row.get::<_, i64>(3)?.max(0) as u64,
            artist: row.get(4)?,
            title: row.get(5)?,
            album: row.get(6)?,
            skipped: row.get(7)?,
            end_reason,
        });
    }
    Ok(round)
}

/// The staging statement of an [`ImportFile`].
pub(crate) struct Stager<'t> {
    staged: Statement<'t>,
    insert: Statement<'t>,
}

impl Stager<'_> {
    /// Stages `play`; false when a play with its key is already staged.
    pub(crate) fn stage(&mut self, play: &StagedPlay) -> rusqlite::Result<bool> {
        let known = self.staged.exists([&play.import_key])?;
        self.insert.execute(params![
            play.import_key,
            play.started_at,
            play.ended_at,
            play.played_ms as i64,
            play.artist,
            play.title,
            play.album,
            play.skipped,
            play.end_reason.as_str()
        ])?;
        Ok(!known)
    }
}

/// Where a placed play goes: its session and its position there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub session_id: i64,
    pub position: i64,
}

/// How far apart the start or the end of one play may read in two sources: both time it to the
/// second, one rounding where the other truncates.
pub(crate) const SAME_PLAY_MS: i64 = 1_000;

/// The import format of Spotify's basic history, which times a play's end to the minute only
/// (`endTime`); its plays are matched with the other formats' by that minute and their length.
pub(crate) const MINUTE_TIMED_FORMAT: &str = "spotify-basic";

const MINUTE_MS: i64 = 60_000;

/// The import format whose plays may have no length (a listen without a duration): theirs is 0.
/// Every other format, and the player, gives a play's length, 0 for a play left at once.
pub(crate) const LENGTHLESS_FORMAT: &str = "listenbrainz";

/// Two plays starting together are one only if their lengths agree this far: the shorter is at
/// least a tenth of the longer, or this long. (A listen of a service's counts from half the
/// track or 4 minutes; a play left in a second and the listen started after it are two.)
const ONE_LISTENING_MS: i64 = 240_000;

/// The statements that place staged plays, in one round's transaction.
pub(crate) struct Placer<'t> {
    tx: &'t Transaction<'t>,
    known: Statement<'t>,
    logged_elsewhere: Statement<'t>,
    waiting_elsewhere: Statement<'t>,
    fill_logged: Statement<'t>,
    fill_waiting: Statement<'t>,
    new_session: Statement<'t>,
    touch_session: Statement<'t>,
    session_around: Statement<'t>,
    place_in_time: Statement<'t>,
    shift_plays: Statement<'t>,
    shift_waiting: Statement<'t>,
    matched: Statement<'t>,
    unmatched: Statement<'t>,
}

/// A copy of a play that [`Placer::fill_lengthless_copy`] filled: its session and its span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FilledCopy {
    pub session_id: i64,
    pub started_at: i64,
    pub ended_at: i64,
}

/// A session the log has already (the player's, an earlier import's, another source's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LoggedSession {
    pub id: i64,
    pub started_at: i64,
    pub last_at: i64,
}

impl<'t> Placer<'t> {
    fn new(tx: &'t Transaction<'t>) -> rusqlite::Result<Self> {
        Ok(Placer {
            tx,
            known: tx.prepare(
                "SELECT 1 FROM plays WHERE import_key = ?1 UNION ALL SELECT 1 FROM unmatched_plays WHERE import_key = ?1",
            )?,
            logged_elsewhere: tx.prepare(&format!(
                "SELECT 1 FROM plays
                 WHERE track_id = ?1
                   AND ((abs(started_at - ?2) <= ?4
                          AND ((played_ms = 0 AND substr(import_key, 1, length(?10)) = ?10) OR NOT ?9
                               OR 10 * min(played_ms, ?6) >= max(played_ms, ?6)
                               OR min(played_ms, ?6) >= {ONE_LISTENING_MS}))
                        OR (?6 > 0 AND played_ms > 0 AND abs(ended_at - ?3) <= ?4)
                        OR ((?7 OR substr(import_key, 1, length(?8)) = ?8)
                            AND abs(played_ms - ?6) <= ?4 AND abs(ended_at - ?3) < {MINUTE_MS}))
                   AND (import_key IS NULL OR substr(import_key, 1, length(?5)) != ?5)"
            ))?,
            waiting_elsewhere: tx.prepare(&format!(
                "SELECT 1 FROM unmatched_plays
                 WHERE match_key = ?1 AND format != ?5
                   AND ((abs(started_at - ?2) <= ?4
                          AND ((played_ms = 0 AND format = ?10) OR NOT ?9
                               OR 10 * min(played_ms, ?6) >= max(played_ms, ?6)
                               OR min(played_ms, ?6) >= {ONE_LISTENING_MS}))
                        OR (?6 > 0 AND played_ms > 0 AND abs(ended_at - ?3) <= ?4)
                        OR ((?7 OR format = ?8)
                            AND abs(played_ms - ?6) <= ?4 AND abs(ended_at - ?3) < {MINUTE_MS}))"
            ))?,
            // The nearest copy only: one play told again fills one listen.
            fill_logged: tx.prepare(
                "UPDATE plays SET played_ms = ?5, ended_at = max(?6, started_at), skipped = ?7, end_reason = ?8
                 WHERE id = (SELECT id FROM plays
                             WHERE track_id = ?1 AND abs(started_at - ?2) <= ?3
                               AND substr(import_key, 1, length(?4)) = ?4
                             ORDER BY abs(started_at - ?2), id LIMIT 1)
                 RETURNING session_id, started_at, ended_at",
            )?,
            fill_waiting: tx.prepare(
                "UPDATE unmatched_plays SET played_ms = ?5, ended_at = max(?6, started_at), skipped = ?7, end_reason = ?8
                 WHERE id = (SELECT id FROM unmatched_plays
                             WHERE match_key = ?1 AND abs(started_at - ?2) <= ?3 AND format = ?4
                             ORDER BY abs(started_at - ?2), id LIMIT 1)
                 RETURNING session_id, started_at, ended_at",
            )?,
            new_session: tx.prepare("INSERT INTO sessions (started_at, last_at) VALUES (?1, ?2)")?,
            touch_session: tx.prepare(
                "UPDATE sessions SET started_at = min(started_at, ?2), last_at = max(last_at, ?3) WHERE id = ?1",
            )?,
            // Sessions do not overlap but where two sources told of one listening apart: the few
            // that start last before the play ends hold any it belongs to.
            session_around: tx.prepare(
                "SELECT id, started_at, last_at FROM (
                     SELECT id, started_at, last_at FROM sessions
                     WHERE started_at <= ?2 + ?3 AND id IS NOT ?4
                     ORDER BY started_at DESC LIMIT 16)
                 WHERE last_at >= ?1 - ?3
                 ORDER BY started_at, id LIMIT 1",
            )?,

            place_in_time: tx.prepare(
                "SELECT 1 + max(coalesce((SELECT max(position) FROM plays WHERE session_id = ?1 AND started_at <= ?2), -1),
                                coalesce((SELECT max(position) FROM unmatched_plays
                                          WHERE session_id = ?1 AND started_at <= ?2), -1))",
            )?,
            shift_plays: tx.prepare("UPDATE plays SET position = position + 1 WHERE session_id = ?1 AND position >= ?2")?,
            shift_waiting: tx
                .prepare("UPDATE unmatched_plays SET position = position + 1 WHERE session_id = ?1 AND position >= ?2")?,
            matched: tx.prepare(
                "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, duration_ms,
                                    end_reason, skipped, source, import_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'import', ?10)",
            )?,
            unmatched: tx.prepare(
                "INSERT INTO unmatched_plays (import_key, format, started_at, ended_at, played_ms, artist, title,
                                              album, match_key, skipped, end_reason, session_id, position)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?,
        })
    }

    /// Whether a play with this key is in the log or waiting already.
    pub(crate) fn is_known(&mut self, import_key: &str) -> rusqlite::Result<bool> {
        Ok(self.known.query_row([import_key], |_| Ok(())).optional()?.is_some())
    }

    /// Whether `play`, a play of one of the library tracks `track_ids` or waiting under
    /// `match_key`, is in the log already from another source: a play of the player's own, or one imported in another
    /// format. Formats time a play differently (Spotify by its end, ListenBrainz by its start,
    /// both to the second), so a play that starts or ends within [`SAME_PLAY_MS`] of one of the
    /// same track is that play come back (an export of the log imported again, or one listening
    /// downloaded from two services). Ends are compared only where both plays have a length: a
    /// listen without one ends where it starts, and the play after it must not read as it.
    /// Two plays starting together whose lengths are far apart ([`ONE_LISTENING_MS`]) are two:
    /// a song left at once and played again, where one source has both and the other the listen.
    /// Within one format the import key decides, exactly. A play of a format timed to the
    /// minute ([`MINUTE_TIMED_FORMAT`]), on either side, is the same play as one of the same
    /// length (within [`SAME_PLAY_MS`]) ending within that minute.
    pub(crate) fn is_logged_elsewhere(
        &mut self,
        play: &StagedPlay,
        format: &str,
        track_ids: &[i64],
        match_key: &str,
    ) -> rusqlite::Result<bool> {
        let (start, end, within, length) = (play.started_at, play.ended_at, SAME_PLAY_MS, play.played_ms as i64);
        let prefix = format!("{format}\u{1f}");
        let minute_timed = format == MINUTE_TIMED_FORMAT;
        let length_known = length > 0 || format != LENGTHLESS_FORMAT;
        let minute_prefix = format!("{MINUTE_TIMED_FORMAT}\u{1f}");
        for &track_id in track_ids {
            if self.logged_elsewhere.exists(params![
                track_id,
                start,
                end,
                within,
                prefix,
                length,
                minute_timed,
                minute_prefix,
                length_known,
                format!("{LENGTHLESS_FORMAT}\u{1f}")
            ])? {
                return Ok(true);
            }
        }
        self.waiting_elsewhere.exists(params![
            match_key,
            start,
            end,
            within,
            format,
            length,
            minute_timed,
            MINUTE_TIMED_FORMAT,
            length_known,
            LENGTHLESS_FORMAT
        ])
    }

    /// Gives the copy of `play` that a source without lengths logged ([`LENGTHLESS_FORMAT`]:
    /// a listen of a song, nothing of how long it ran; the length it was logged with is the
    /// track's, or 0) what `play` knows of it, once [`Self::is_logged_elsewhere`] found it
    /// there: its length, its end, and whether it was skipped. One listening told by two
    /// sources is then the better told of the two, whichever came first. Returns the copy's
    /// session and its span as it now is, whose end may reach the session after it.
    pub(crate) fn fill_lengthless_copy(
        &mut self,
        play: &StagedPlay,
        format: &str,
        track_ids: &[i64],
        match_key: &str,
    ) -> rusqlite::Result<Option<FilledCopy>> {
        if play.played_ms == 0 || format == LENGTHLESS_FORMAT {
            return Ok(None);
        }
        // Each statement takes (the track or match key, the start, the tolerance, the copy's
        // format) and what `play` tells, and returns the sessions of the copies it filled.
        let fill = |statement: &mut Statement<'_>, key: &dyn rusqlite::ToSql, format: &str| {
            let told = params![
                key,
                play.started_at,
                SAME_PLAY_MS,
                format,
                play.played_ms as i64,
                play.ended_at,
                play.skipped,
                play.end_reason.as_str()
            ];
            statement
                .query_row(told, |row| {
                    Ok(FilledCopy {
                        session_id: row.get(0)?,
                        started_at: row.get(1)?,
                        ended_at: row.get(2)?,
                    })
                })
                .optional()
        };
        let logged_prefix = format!("{LENGTHLESS_FORMAT}\u{1f}");
        let mut filled = None;
        for track_id in track_ids {
            filled = fill(&mut self.fill_logged, track_id, &logged_prefix)?;
            if filled.is_some() {
                break;
            }
        }
        if filled.is_none() {
            filled = fill(&mut self.fill_waiting, &match_key, LENGTHLESS_FORMAT)?;
        }
        if let Some(copy) = filled {
            self.touch_session(copy.session_id, copy.started_at, copy.ended_at)?;
        }
        Ok(filled)
    }

    /// A new session from `started_at` to `ended_at`; returns its id.
    pub(crate) fn new_session(&mut self, started_at: i64, ended_at: i64) -> rusqlite::Result<i64> {
        self.new_session.execute(params![started_at, ended_at])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Widens a session to a play from `started_at` to `ended_at`.
    pub(crate) fn touch_session(&mut self, session_id: i64, started_at: i64, ended_at: i64) -> rusqlite::Result<()> {
        self.touch_session.execute(params![session_id, started_at, ended_at])?;
        Ok(())
    }

    /// The logged session other than `besides` a play from `started_at` to `ended_at` belongs
    /// to: one it starts at most `gap_ms` after the end of, or ends at most `gap_ms` before the
    /// start of (the earliest, if several).
    pub(crate) fn session_around(
        &mut self,
        started_at: i64,
        ended_at: i64,
        gap_ms: i64,
        besides: Option<i64>,
    ) -> rusqlite::Result<Option<LoggedSession>> {
        self.session_around
            .query_row(params![started_at, ended_at, gap_ms, besides], |r| {
                Ok(LoggedSession {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    last_at: r.get(2)?,
                })
            })
            .optional()
    }

    /// Makes sessions `a` and `b` one, a play having come between them: the id of the one a
    /// running player is writing to (it holds an open play) stays, else the earlier one's, and
    /// the plays of both are numbered in the order they started (each table's rows in the same
    /// order in both passes, the kind before the position). Returns the id kept.
    pub(crate) fn merge_sessions(&mut self, a: i64, b: i64) -> rusqlite::Result<i64> {
        // (no open play, start, id): the smaller stays.
        let rank = |id: i64| -> rusqlite::Result<(bool, i64, i64)> {
            self.tx.query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM plays WHERE session_id = ?1 AND end_reason IS NULL), started_at
                 FROM sessions WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, id)),
            )
        };
        let (keep, gone) = if rank(a)? <= rank(b)? { (a, b) } else { (b, a) };
        for statement in [
            "UPDATE plays SET session_id = ?1 WHERE session_id = ?2",
            "UPDATE unmatched_plays SET session_id = ?1 WHERE session_id = ?2",
            "UPDATE sessions SET started_at = min(started_at, (SELECT started_at FROM sessions WHERE id = ?2)),
                                 last_at = max(last_at, (SELECT last_at FROM sessions WHERE id = ?2))
             WHERE id = ?1",
            "DELETE FROM sessions WHERE id = ?2",
        ] {
            self.tx.execute(statement, params![keep, gone])?;
        }
        let in_order = "WITH ordered AS (
                 SELECT kind, id, row_number() OVER (ORDER BY started_at, kind, position, id) - 1 AS place FROM (
                     SELECT 0 AS kind, id, started_at, position FROM plays WHERE session_id = ?1
                     UNION ALL SELECT 1, id, started_at, position FROM unmatched_plays WHERE session_id = ?1))";
        self.tx.execute(
            &format!("{in_order} UPDATE plays SET position = ordered.place FROM ordered WHERE ordered.kind = 0 AND plays.id = ordered.id"),
            [keep],
        )?;
        self.tx.execute(
            &format!("{in_order} UPDATE unmatched_plays SET position = ordered.place FROM ordered WHERE ordered.kind = 1 AND unmatched_plays.id = ordered.id"),
            [keep],
        )?;
        Ok(keep)
    }

    /// The position in logged session `session_id` of a play starting at `started_at`, after
    /// every play of it that started before, with the later ones moved one on to make room.
    pub(crate) fn make_room(&mut self, session_id: i64, started_at: i64) -> rusqlite::Result<i64> {
        let position: i64 = self
            .place_in_time
            .query_row(params![session_id, started_at], |r| r.get(0))?;
        self.shift_plays.execute(params![session_id, position])?;
        self.shift_waiting.execute(params![session_id, position])?;
        Ok(position)
    }

    /// Adds `play` to the log as a play of library track `track_id`.
    pub(crate) fn insert_matched(
        &mut self,
        play: &StagedPlay,
        track_id: i64,
        duration_ms: Option<u64>,
        slot: Slot,
    ) -> rusqlite::Result<()> {
        let (played_ms, ended_at) = played_of(
            (play.started_at, play.ended_at),
            play.played_ms,
            play.skipped,
            play.end_reason,
            duration_ms,
        );
        self.matched.execute(params![
            track_id,
            slot.session_id,
            slot.position,
            play.started_at,
            ended_at,
            played_ms as i64,
            duration_ms.map(|d| d as i64),
            play.end_reason.as_str(),
            play.skipped,
            play.import_key
        ])?;
        Ok(())
    }

    /// Keeps `play` waiting for its track, under `match_key`.
    pub(crate) fn insert_unmatched(
        &mut self,
        play: &StagedPlay,
        format: &str,
        match_key: &str,
        slot: Slot,
    ) -> rusqlite::Result<()> {
        self.unmatched.execute(params![
            play.import_key,
            format,
            play.started_at,
            play.ended_at,
            play.played_ms as i64,
            play.artist,
            play.title,
            play.album,
            match_key,
            play.skipped,
            play.end_reason.as_str(),
            slot.session_id,
            slot.position
        ])?;
        Ok(())
    }
}

/// How long an imported play of a track of `duration_ms` played, and when it ended: as
/// recorded, or, for a finished play that records no length (a ListenBrainz listen without a
/// duration), the whole track from its start. Left at 0, such a listen would count as neither a
/// listen nor a skip, and an export that keeps listens only would drop it.
fn played_of(
    (started_at, ended_at): (i64, i64),
    played_ms: u64,
    skipped: bool,
    end_reason: EndReason,
    duration_ms: Option<u64>,
) -> (u64, i64) {
    match duration_ms {
        Some(duration) if played_ms == 0 && !skipped && end_reason == EndReason::Finished => {
            (duration, started_at.saturating_add(duration as i64).max(ended_at))
        }
        _ => (played_ms, ended_at),
    }
}

/// Whether any imported play waits for its track.
pub(crate) fn any_waiting(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM unmatched_plays)", [], |r| r.get(0))
}

/// Moves every waiting imported play for which `find(match_key, album)` names a library track
/// (its id and duration) into `plays`, in the session and at the position it was imported with,
/// in rounds of [`PLACE_ROUND`]. Returns how many moved.
pub(crate) fn match_waiting(
    conn: &mut Connection,
    find: impl Fn(&str, Option<&str>) -> Option<(i64, Option<u64>)>,
) -> rusqlite::Result<usize> {
    // Matching every waiting play is long and reads only, so it runs before the transaction that
    // moves the matched ones: the write lock, which a running player's plays wait for, is held
    // only to write. (A transaction that read first would fail at its first write if another
    // connection wrote meanwhile.) A play another process moved meanwhile is moved by neither
    // statement below.
    let mut found = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT id, match_key, album, started_at, ended_at, played_ms, skipped, end_reason
             FROM unmatched_plays ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let key: String = row.get(1)?;
            let album: Option<String> = row.get(2)?;
            let Some((track_id, duration_ms)) = find(&key, album.as_deref()) else {
                continue;
            };
            let reason: String = row.get(7)?;
            let (played_ms, ended_at) = played_of(
                (row.get(3)?, row.get(4)?),
                row.get::<_, i64>(5)?.max(0) as u64,
                row.get(6)?,
                EndReason::parse(&reason).unwrap_or(EndReason::Finished),
                duration_ms,
            );
            found.push((row.get::<_, i64>(0)?, track_id, duration_ms, played_ms, ended_at));
        }
    }
    // Moved in rounds, each its own transaction, as imports are placed: the write lock is
    // never held long.
    let mut moved = 0;
    for round in found.chunks(PLACE_ROUND) {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, duration_ms,
                                    end_reason, skipped, source, import_key)
                 SELECT ?2, session_id, position, started_at, ?4, ?5, ?3, end_reason, skipped, 'import', import_key
                 FROM unmatched_plays WHERE id = ?1",
            )?;
            let mut delete = tx.prepare("DELETE FROM unmatched_plays WHERE id = ?1")?;
            for (id, track_id, duration_ms, played_ms, ended_at) in round {
                moved += insert.execute(params![
                    id,
                    track_id,
                    duration_ms.map(|d| d as i64),
                    ended_at,
                    *played_ms as i64
                ])?;
                delete.execute([id])?;
            }
        }
        tx.commit()?;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Database;

    fn staged(n: usize) -> StagedPlay {
        StagedPlay {
            import_key: format!("test\u{1f}{n}"),
            started_at: n as i64 * 1000,
            ended_at: n as i64 * 1000 + 500,
            played_ms: 500,
            artist: "artist".into(),
            title: format!("title {n}"),
            album: None,
            skipped: false,
            end_reason: EndReason::Finished,
        }
    }

    /// Another connection to the same file, as a running player has.
    fn other(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
        conn
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn an_import_commits_round_by_round_and_a_match_survives_a_write_between_its_read_and_its_move() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("skipless.db");
        let mut db = Database::open(&path).unwrap();
        let plays = 2 * PLACE_ROUND + 1;

        let mut file = ImportFile::begin(db.conn_mut()).unwrap();
        file.stage(|stager| {
            for n in 0..plays {
                stager.stage(&staged(n))?;
            }
            Ok::<(), rusqlite::Error>(())
        })
        .unwrap();
        let mut placed = 0;
        let mut seen_by_another_connection = Vec::new();
        file.place(|placer, play| {
            if placed % PLACE_ROUND == 0 {
                seen_by_another_connection.push(count(&other(&path), "unmatched_plays"));
            }
            let session_id = placer.new_session(play.started_at, play.ended_at)?;
            placer.insert_unmatched(
                &play,
                "test",
                &play.title,
                Slot {
                    session_id,
                    position: 0,
                },
            )?;
            placed += 1;
            Ok::<(), rusqlite::Error>(())
        })
        .unwrap();
        // Each round was committed before the next began: the write lock was let go between.
        let round = PLACE_ROUND as i64;
        assert_eq!(seen_by_another_connection, [0, round, 2 * round]);
        assert_eq!(count(db.conn(), "unmatched_plays"), plays as i64);
        assert_eq!(count(db.conn(), "temp.import_stage"), 0);

        // A player writes while the waiting plays are being matched.
        db.conn()
            .execute(
                "INSERT INTO tracks (path, path_text, size, mtime_ns, status, title, added_at, updated_at) \
                 VALUES ('/m/a.ogg', '/m/a.ogg', 1, 1, 'ok', 't', 0, 0)",
                [],
            )
            .unwrap();
        let track_id = db.conn().last_insert_rowid();
        let player = other(&path);
        let wrote = std::cell::Cell::new(false);
        let moved = match_waiting(db.conn_mut(), |_, _| {
            if !wrote.replace(true) {
                player
                    .execute("INSERT INTO sessions (started_at, last_at) VALUES (1, 1)", [])
                    .unwrap();
            }
            Some((track_id, Some(60_000)))
        })
        .unwrap();
        assert_eq!(moved, plays);
        assert_eq!(count(db.conn(), "plays"), plays as i64);
        assert_eq!(count(db.conn(), "unmatched_plays"), 0);
    }
}
