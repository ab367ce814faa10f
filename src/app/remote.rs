//! Control of a running player from a shell: the player's end of its Unix socket ([`Server`],
//! [`RemoteRequest`]) and `skipless remote`'s end ([`send`]).
//!
//! The protocol is lines: the client writes one [`LineCommand`] per line (the same words as the
//! headless player's stdin; a path is raw bytes), closes its writing half, and reads one reply
//! line per command: `ok …`, `error: …`, or the status. The socket lives in a directory only its
//! user can enter, is itself mode 0600, and the server also refuses a peer whose user id is not
//! its own, so no other user can drive the player.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::commands::LineCommand;
use super::AppError;

/// How long a connection may take to send one command line, a reply to be taken, and the
/// player to answer one.
const TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait before accepting again after a failed accept.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// The longest command line a client may send: a line of queued paths fits many times over.
const LONGEST_LINE: u64 = 1 << 20;

/// The most connections served at once; one more is told so and closed. Each has a thread and
/// may hold a line of up to [`LONGEST_LINE`].
const MOST_CONNECTIONS: usize = 32;

/// One command from the socket; the front end answers on `reply` with one line.
#[derive(Debug)]
pub(crate) struct RemoteRequest {
    command: LineCommand,
    reply: Sender<String>,
    /// Whether the front end took it, or its connection gave up waiting first: one of the two
    /// happens, never both.
    fate: Arc<AtomicU8>,
}

const PENDING: u8 = 0;
const TAKEN: u8 = 1;
const GIVEN_UP: u8 = 2;

impl RemoteRequest {
    /// The command and where to answer it, unless its client was already told that the player
    /// did not answer: a command it gave up on is not carried out later (a script that tries
    /// `next` again would skip twice).
    pub(crate) fn in_time(self) -> Option<(LineCommand, Sender<String>)> {
        if self
            .fate
            .compare_exchange(PENDING, TAKEN, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            tracing::warn!(
                "a remote command came too late to answer, and was not carried out: {:?}",
                self.command
            );
            return None;
        }
        Some((self.command, self.reply))
    }
}

/// The listening socket of a running player; the socket file is removed when it is dropped.
pub(crate) struct Server {
    path: PathBuf,
    requests: Receiver<RemoteRequest>,
}

impl Server {
    /// Binds the socket at `path` (replacing a stale one a crashed player left behind) and
    /// starts accepting on its own thread. Fails with one line when another process answers on
    /// it or the directory is not safe.
    pub(crate) fn start(path: &Path) -> Result<Self, String> {
        let dir = path
            .parent()
            .ok_or_else(|| format!("{}: no directory for the socket", path.display()))?;
        private_dir(dir)?;
        if std::fs::symlink_metadata(path).is_ok() {
            if UnixStream::connect(path).is_ok() {
                return Err(format!("{}: another player answers on this socket", path.display()));
            }
            std::fs::remove_file(path)
                .map_err(|e| format!("{}: cannot replace the stale socket: {e}", path.display()))?;
        }
        let listener = UnixListener::bind(path).map_err(|e| format!("{}: cannot listen: {e}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let (tx, requests) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("remote".into())
            .spawn(move || accept(&listener, &tx))
            .map_err(|e| format!("cannot start the remote thread: {e}"))?;
        Ok(Self {
            path: path.to_path_buf(),
            requests,
        })
    }

    pub(crate) fn requests(&self) -> Receiver<RemoteRequest> {
        self.requests.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Creates `dir` for this user only, or checks that an existing one is this user's and closed
/// to everyone else (it may be a shared `/tmp`).
fn private_dir(dir: &Path) -> Result<(), String> {
    match std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) => return Err(format!("{}: cannot create the socket directory: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{}: the socket directory must be a directory of this user, closed to others (mode 0700)",
            dir.display()
        ));
    }
    Ok(())
}

fn accept(listener: &UnixListener, tx: &Sender<RemoteRequest>) {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // An error that lasts (no file descriptors left) must not spin a core.
                tracing::warn!("remote: cannot accept a connection: {e}");
                std::thread::sleep(ACCEPT_RETRY);
                continue;
            }
        };
        let Some(slot) = Slot::take(&open) else {
            let mut stream = stream;
            let _ = stream.set_write_timeout(Some(TIMEOUT));
            let _ = writeln!(
                stream,
                "error: the player serves {MOST_CONNECTIONS} connections at once already: try again"
            );
            continue;
        };
        let tx = tx.clone();
        // One short-lived thread per connection, so a slow client never holds up another. The
        // slot goes with the thread, and is given back however it ends (or if it never starts).
        let spawned = std::thread::Builder::new().name("remote-client".into()).spawn(move || {
            let _slot = slot;
            serve(stream, &tx);
        });
        if let Err(e) = spawned {
            tracing::warn!("remote: cannot serve a connection: {e}");
        }
    }
}

/// One of the [`MOST_CONNECTIONS`] connections served at once, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// A slot, unless all are taken.
    fn take(open: &Arc<AtomicUsize>) -> Option<Slot> {
        open.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < MOST_CONNECTIONS).then_some(n + 1)
        })
        .ok()
        .map(|_| Slot(open.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A client's stream whose reads end at `until`: a line must arrive whole by then, however
/// slowly its bytes trickle in.
struct LineDeadline {
    stream: UnixStream,
    until: Instant,
}

impl Read for LineDeadline {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

/// Answers every command line of one connection, in order.
fn serve(stream: UnixStream, tx: &Sender<RemoteRequest>) {
    let mut out = match stream.try_clone() {
        Ok(out) => out,
        Err(_) => return,
    };
    if !same_user(&stream) {
        let _ = writeln!(out, "error: permission denied: this player belongs to another user");
        return;
    }
    let _ = out.set_write_timeout(Some(TIMEOUT));
    let mut reader = BufReader::new(LineDeadline {
        stream,
        until: Instant::now() + TIMEOUT,
    })
    .take(LONGEST_LINE);
    let mut line = Vec::new();
    loop {
        line.clear();
        reader.set_limit(LONGEST_LINE);
        reader.get_mut().get_mut().until = Instant::now() + TIMEOUT;
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with(b"\n") && reader.limit() == 0 => {
                let _ = writeln!(out, "error: a command line is at most {LONGEST_LINE} bytes");
                return;
            }
            Ok(_) => {}
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        // A client that gave up waiting (the player was stopped, Ctrl-Z) and closed is not
        // answered, and its command not carried out. A client must keep its reading half open
        // until its replies came, as `skipless remote` does.
        if client_gone(&out) {
            tracing::warn!("a remote client left before its command was read; it was not carried out");
            return;
        }
        let answer = match LineCommand::parse(&line) {
            Ok(command) => {
                let (reply, answered) = crossbeam_channel::bounded(1);
                let fate = Arc::new(AtomicU8::new(PENDING));
                let request = RemoteRequest {
                    command,
                    reply,
                    fate: fate.clone(),
                };
                if tx.send(request).is_err() {
                    return;
                }
                let late = "error: the player did not answer".to_owned();
                answered.recv_timeout(TIMEOUT).unwrap_or_else(|_| {
                    match fate.compare_exchange(PENDING, GIVEN_UP, Ordering::SeqCst, Ordering::SeqCst) {
                        Ok(_) => format!("{late}; the command was not carried out"),
                        // Taken as time ran out: its answer is on its way.
                        Err(_) => answered.recv().unwrap_or(late),
                    }
                })
            }
            Err(message) => format!("error: {message}"),
        };
        if writeln!(out, "{answer}").is_err() {
            return;
        }
    }
}

/// Whether the client closed its end of `stream` whole (not only its writing half, as it does
/// once its lines are sent).
fn client_gone(stream: &UnixStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut poll = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd for an open fd, and no wait.
    let ready = unsafe { libc::poll(&raw mut poll, 1, 0) };
    ready > 0 && poll.revents & libc::POLLHUP != 0
}

/// Whether the peer runs as this process's user (the socket's mode already keeps others out;
/// this also holds if the mode were changed).
fn same_user(stream: &UnixStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given, and the fd is open.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &raw mut len,
        )
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    rc == 0 && cred.uid == unsafe { libc::geteuid() }
}

/// Asks a player running at `socket`, if one is, to read the marks and the saved model again
/// (after a like, a ban or a training run in this process). None running is no error; one
/// that refuses (an older player, which has no `reload`) is.
pub(crate) fn tell_reload(socket: &Path) -> Result<(), AppError> {
    match send(socket, &[b"reload".to_vec()]) {
        Ok(replies) => match replies.iter().find_map(|r| r.strip_prefix("error: ")) {
            Some(refusal) => Err(AppError::Refused(format!("the player refused: {refusal}"))),
            None => Ok(()),
        },
        Err(AppError::NoPlayer(_) | AppError::StalePlayer(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sends command lines to the player listening at `socket` and returns its reply lines.
pub(crate) fn send(socket: &Path, lines: &[Vec<u8>]) -> Result<Vec<String>, AppError> {
    let wait = TIMEOUT * 2;
    let io = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            AppError::AnswerLate(socket.to_path_buf(), wait)
        }
        _ => AppError::Io {
            path: socket.to_path_buf(),
            source,
        },
    };
    let mut stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AppError::NoPlayer(socket.to_path_buf()),
        std::io::ErrorKind::ConnectionRefused => AppError::StalePlayer(socket.to_path_buf()),
        std::io::ErrorKind::PermissionDenied => AppError::PlayerDenied(socket.to_path_buf()),
        _ => io(e),
    })?;
    stream.set_read_timeout(Some(wait)).map_err(io)?;
    stream.set_write_timeout(Some(wait)).map_err(io)?;
    // A player that refuses the connection (too many, another user, a line too long) answers
    // with one line and closes: the rest of the commands cannot be written, and reading after
    // its line may find the connection reset. The line it wrote is the answer.
    let mut refused = false;
    for line in lines {
        let written = stream.write_all(line).and_then(|()| stream.write_all(b"\n"));
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                refused = true;
                break;
            }
            other => other.map_err(io)?,
        }
    }
    if !refused {
        stream.shutdown(std::net::Shutdown::Write).map_err(io)?;
    }
    let mut replies = Vec::new();
    for line in BufReader::new(stream).lines() {
        match line {
            Ok(line) => replies.push(line),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !replies.is_empty() => break,
            Err(e) => return Err(io(e)),
        }
    }
    // Every command is answered with a line (a refusal of the whole connection with one):
    // none means the player went away before answering.
    if replies.is_empty() {
        return Err(AppError::NoAnswer(socket.to_path_buf()));
    }
    Ok(replies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(fate: u8) -> (RemoteRequest, Arc<AtomicU8>) {
        let fate = Arc::new(AtomicU8::new(fate));
        let (reply, _) = crossbeam_channel::bounded(1);
        let request = RemoteRequest {
            command: LineCommand::Next,
            reply,
            fate: fate.clone(),
        };
        (request, fate)
    }

    #[test]
    fn a_request_is_carried_out_or_given_up_on_never_both() {
        let (waiting, fate) = request(PENDING);
        assert!(waiting.in_time().is_some());
        assert_eq!(
            fate.load(Ordering::SeqCst),
            TAKEN,
            "its connection waits for the answer"
        );
        let (given_up, _) = request(GIVEN_UP);
        assert!(given_up.in_time().is_none());
    }
}
