//! Fuzzy search of the library over title, artist, album, album artist, genre and year
//! ([`search`]), and the search
//! thread that runs it for large libraries ([`Searcher`]), so typing never waits for a scan of
//! a million tracks.
//!
//! Each track's text is put together in a reused buffer as it is scored, so no second copy of
//! the library's text is kept for search. The thread scores in chunks and looks for a newer
//! query between them: a stale query is dropped mid-way, and a long search sends what it has
//! found so far while it goes on.

use std::borrow::Borrow;
use std::fmt::Write;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use nucleo_matcher::pattern::{AtomKind, CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config as MatcherConfig, Matcher, Utf32Str};

use super::library::SharedLibrary;
use super::workers::WorkerMsg;
use crate::track::Track;

/// Libraries up to this size are searched on the UI thread as the listener types (a few
/// milliseconds); larger ones on the search thread.
pub const INLINE_LIMIT: usize = 20_000;

/// How many results a search keeps, best first.
pub const RESULTS: usize = 1000;

/// Tracks scored between two looks for a newer query.
const CHUNK: usize = 32_768;

/// A search still running sends what it has after this long, then at each chunk.
const FIRST_RESULTS_AFTER: Duration = Duration::from_millis(30);

/// Track indices matching `query` fuzzily over "title artist album", then the album artist
/// (a compilation's "Various Artists"), genre and year where the track has them, best first:
/// by how closely they match (a title that is the query, one that begins with it, every word
/// in the title, every word as written anywhere, the letters in order), then by score (ties
/// in library order); none for a blank query.
pub fn search<T: Borrow<Track>>(tracks: &[T], query: &str, limit: usize) -> Vec<usize> {
    let mut scoring = Scoring::new(query, limit);
    scoring.add(tracks, 0..tracks.len());
    scoring.best()
}

/// A search under way: the pattern, and the best matches found so far.
struct Scoring {
    pattern: Option<Pattern>,
    /// The same words as written: a track holding each of them ranks above one that only
    /// holds their letters in order ("love" finds "Love Song" before "Lonely Over Venus").
    as_written: Option<Pattern>,
    /// The query as typed, trimmed, to find titles that are it or begin with it.
    query: String,
    matcher: Matcher,
    text: String,
    chars: Vec<char>,
    limit: usize,
    /// (how closely it matches, fuzzy score, track index)
    best: Vec<(Closeness, u32, usize)>,
}

impl Scoring {
    fn new(query: &str, limit: usize) -> Self {
        let blank = query.trim().is_empty();
        let pattern_of = |kind| (!blank).then(|| Pattern::new(query, CaseMatching::Ignore, Normalization::Smart, kind));
        Self {
            pattern: pattern_of(AtomKind::Fuzzy),
            as_written: pattern_of(AtomKind::Substring),
            query: query.trim().to_owned(),
            matcher: Matcher::new(MatcherConfig::DEFAULT),
            text: String::new(),
            chars: Vec::new(),
            limit,
            best: Vec::new(),
        }
    }

    /// Scores the tracks at `range` and keeps the best `limit` of everything scored.
    fn add<T: Borrow<Track>>(&mut self, tracks: &[T], range: std::ops::Range<usize>) {
        let (Some(pattern), Some(as_written)) = (&self.pattern, &self.as_written) else {
            return;
        };
        let start = self.best.len();
        for i in range {
            let t: &Track = tracks[i].borrow();
            self.text.clear();
            self.text.push_str(&t.title);
            self.text.push(' ');
            // The names the lists show for missing tags find their tracks too.
            self.text
                .push_str(t.artist.as_deref().unwrap_or(crate::track::UNKNOWN_ARTIST));
            self.text.push(' ');
            self.text
                .push_str(t.album.as_deref().unwrap_or(crate::track::UNKNOWN_ALBUM));
            for more in [
                t.album_artist.as_deref().filter(|a| Some(*a) != t.artist.as_deref()),
                t.genre.as_deref(),
            ]
            .into_iter()
            .flatten()
            {
                self.text.push(' ');
                self.text.push_str(more);
            }
            if let Some(year) = t.year {
                // Into the reused buffer: no string per track.
                let _ = write!(self.text, " {year}");
            }
            let text = Utf32Str::new(&self.text, &mut self.chars);
            let Some(score) = pattern.score(text, &mut self.matcher) else {
                continue;
            };
            let closeness = if as_written.score(text, &mut self.matcher).is_none() {
                Closeness::Letters
            } else if crate::track::same_name(&t.title, &self.query) {
                Closeness::Title
            } else if crate::track::starts_with_name(&t.title, &self.query) {
                Closeness::TitleStart
            } else if as_written
                .score(Utf32Str::new(&t.title, &mut self.chars), &mut self.matcher)
                .is_some()
            {
                Closeness::InTitle
            } else {
                Closeness::Words
            };
            self.best.push((closeness, score, i));
        }
        if self.best.len() > start {
            self.best
                .sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
            self.best.truncate(self.limit);
        }
    }

    fn best(&self) -> Vec<usize> {
        self.best.iter().map(|&(.., i)| i).collect()
    }
}

/// How a track matches a query, loosest first: its letters in order somewhere, every word as
/// written somewhere, every word in the title, the title beginning with the query, the title
/// being the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Closeness {
    Letters,
    Words,
    InTitle,
    TitleStart,
    Title,
}

/// A query for the search thread, numbered so the screen keeps only the latest answer.
struct Query {
    generation: u64,
    text: String,
    tracks: SharedLibrary,
}

/// The search thread: queries in, [`WorkerMsg::SearchResults`] out.
pub struct Searcher {
    queries: Sender<Query>,
}

impl Searcher {
    /// Starts the thread; it ends when the `Searcher` is dropped.
    pub fn start(results: Sender<WorkerMsg>) -> Self {
        let (queries, rx) = crossbeam_channel::unbounded();
        let spawned = std::thread::Builder::new()
            .name("search".into())
            .spawn(move || run(&rx, &results));
        if let Err(e) = spawned {
            tracing::error!("cannot start the search thread: {e}");
        }
        Self { queries }
    }

    /// Searches `tracks` for `text`; the answer carries `generation`.
    pub fn ask(&self, generation: u64, text: &str, tracks: SharedLibrary) {
        let _ = self.queries.send(Query {
            generation,
            text: text.to_owned(),
            tracks,
        });
    }
}

/// The newest of the queries waiting, if any.
fn newest(rx: &Receiver<Query>) -> Option<Query> {
    rx.try_iter().last()
}

fn run(rx: &Receiver<Query>, results: &Sender<WorkerMsg>) {
    let mut next = None;
    loop {
        let query = match next.take() {
            Some(query) => query,
            None => match rx.recv() {
                Ok(query) => newest(rx).unwrap_or(query),
                Err(_) => return,
            },
        };
        let started = Instant::now();
        let mut scoring = Scoring::new(&query.text, RESULTS);
        let len = query.tracks.len();
        let mut done = 0;
        while done < len {
            let end = (done + CHUNK).min(len);
            scoring.add(&query.tracks, done..end);
            done = end;
            if let Some(newer) = newest(rx) {
                next = Some(newer);
                break;
            }
            if done < len && started.elapsed() >= FIRST_RESULTS_AFTER {
                let partial = WorkerMsg::SearchResults {
                    generation: query.generation,
                    results: scoring.best(),
                    complete: false,
                };
                if results.send(partial).is_err() {
                    return;
                }
            }
        }
        if next.is_none() {
            let answer = WorkerMsg::SearchResults {
                generation: query.generation,
                results: scoring.best(),
                complete: true,
            };
            if results.send(answer).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn track(title: &str, artist: &str, album: &str) -> Track {
        Track {
            title: title.to_owned(),
            artist: Some(artist.into()),
            album: Some(album.into()),
            ..Track::default()
        }
    }

    #[test]
    fn chunks_find_what_one_pass_finds() {
        let words = ["blue", "night", "river", "echo", "glass", "summer"];
        let tracks: Vec<Track> = (0..100_000)
            .map(|i| track(&format!("{} {i}", words[i % 6]), words[i / 6 % 6], words[i / 36 % 6]))
            .collect();
        for query in ["river echo", "glass 99", "nght", "zzz", " "] {
            let whole = search(&tracks, query, RESULTS);
            let mut chunked = Scoring::new(query, RESULTS);
            for start in (0..tracks.len()).step_by(7_000) {
                chunked.add(&tracks, start..(start + 7_000).min(tracks.len()));
            }
            assert_eq!(chunked.best(), whole, "{query}");
        }
        assert!(search(&tracks, "zzz", RESULTS).is_empty());
        assert_eq!(search(&tracks, "glass 99", 3).len(), 3);
    }

    #[test]
    fn untagged_tracks_are_found_by_the_names_the_lists_give_them() {
        let tracks = [
            track("Halo", "Beyoncé", "I Am... Sasha Fierce"),
            Track {
                title: "field recording".into(),
                ..Track::default()
            },
        ];
        assert_eq!(search(&tracks, "unknown artist", RESULTS), [1]);
        assert_eq!(search(&tracks, "unknown album", RESULTS), [1]);
    }

    #[test]
    fn the_album_artist_genre_and_year_find_their_tracks() {
        let tracks = [
            Track {
                album_artist: Some("Various Artists".into()),
                genre: Some("Jazz".into()),
                year: Some(1959),
                ..track("So What", "Miles Davis", "Jazz Comp")
            },
            track("Halo", "Beyoncé", "I Am... Sasha Fierce"),
        ];
        for query in ["various", "jazz", "1959", "miles various"] {
            assert_eq!(search(&tracks, query, RESULTS), [0], "{query}");
        }
    }

    #[test]
    fn words_found_as_written_rank_above_letters_found_scattered() {
        let tracks = [
            // Every letter of "love" begins a word here, which fuzzy scoring rewards most.
            track("Lonely Over Venus Everywhere", "Orbit", "Far"),
            track("Glovebox", "Hands", "Near"),
            track("Summer", "Love Unlimited", "Under the Influence"),
        ];
        // The word in the title before the word in the artist's name, both before the letters.
        assert_eq!(search(&tracks, "love", RESULTS), [1, 2, 0]);
        assert_eq!(search(&tracks, "hands love", RESULTS), [1]);
    }

    #[test]
    fn a_title_that_is_the_query_comes_first_then_titles_beginning_with_it() {
        let tracks = [
            track("Ghost", "Aurora", "Love Songs"),
            track("Lovely Day", "Bill", "Menagerie"),
            track("Crazy in Love", "B", "Dangerously"),
            track("LOVE", "DJ", "Singles"),
        ];
        assert_eq!(search(&tracks, "love", RESULTS), [3, 1, 2, 0]);
        assert_eq!(search(&tracks, " Love ", RESULTS), [3, 1, 2, 0]);
    }

    #[test]
    fn the_thread_answers_the_newest_query() {
        let tracks: Arc<Vec<Arc<Track>>> = Arc::new(
            (0..300_000)
                .map(|i| Arc::new(track(&format!("song {i}"), "someone", "something")))
                .collect(),
        );
        let (tx, rx) = crossbeam_channel::unbounded();
        let searcher = Searcher::start(tx);
        for (generation, text) in ["s", "so", "son", "song 123"].iter().enumerate() {
            searcher.ask(generation as u64, text, tracks.clone());
        }
        let last = loop {
            match rx.recv_timeout(Duration::from_secs(30)).unwrap() {
                WorkerMsg::SearchResults {
                    generation: 3,
                    results,
                    complete: true,
                } => break results,
                WorkerMsg::SearchResults { .. } => {}
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(last, search(&tracks, "song 123", RESULTS));
        assert_eq!(tracks[last[0]].title, "song 123");
    }
}
