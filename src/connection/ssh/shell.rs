//! One long-lived shell per host (and per become user): a POSIX `sh` loop on one exec channel
//! that reads framed requests on its stdin and writes framed replies, so a run opens one
//! channel per host instead of one per command (each channel costs the host a fork of sshd and
//! a login shell).
//!
//! A request is a header line `KIND SCRIPT_LINES PAYLOAD_LEN`, the script, then the payload.
//! The loop reads the script with `read` (a builtin, which never reads past a newline) and the
//! payload, byte-exact, into a file of a private temp directory (`head -c`, or `dd bs=1` where
//! `head` reads ahead, as BusyBox's does), then runs the script in a subshell with stdin from the payload (or `/dev/null`) and stdout and stderr
//! to two fresh files, never to the channel: a command cannot read the request stream, and a
//! daemon it starts that keeps its stdout open (`service radvd start`) holds a file, not the
//! channel. The reply is a line `STATUS STDOUT_LEN STDERR_LEN` and the two outputs, their
//! lengths counted by `wc -c` and sent with `head -c` of exactly that many bytes, so binary
//! output, output without a final newline and a daemon still writing cannot break the framing.
//!
//! A request of kind `r` (converge's own reads: a stat, a file's content, a batch of reads
//! made ahead) writes its stdout straight on the channel, framed by the mark that follows,
//! sparing the `cat`: a read starts no daemon. A request of kind `m` runs in the loop's own
//! shell rather than a subshell: the run lock
//! opens its file on fd 9 there and keeps it for the shell's life; commands run with fd 9
//! closed, so a daemon never inherits the lock.
//!
//! A dropped connection: a script whose lines did not all come is never run, and a truncated
//! payload is detected by its byte count; either ends the loop before the command runs. On EOF or a signal the loop removes its
//! temp directory.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::io::RawFd;
use std::time::{Duration, Instant};

use converge_modules::{quote, Output};

use super::script::PathRead;
use ssh2::{BlockDirections, Channel, ErrorCode, Session};

use super::exec::{describe, seconds, ExecError, Limits};
use super::liveness::Liveness;

/// How much of the channel is read at a time.
const READ_CHUNK: usize = 4 * 1024;

/// How a request runs in the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// In a subshell, isolated from the loop (every command and file operation).
    Command,
    /// In the loop's shell itself, for state kept across requests (the run lock's fd 9).
    Main,
    /// In a subshell like a command, with its stdout straight on the channel instead of
    /// through a file (saving a `cat`): only for converge's own reads, which start no daemon
    /// that could keep writing there.
    Read,
}

/// The first line the loop prints once it is ready (also the sign that sudo let it start).
pub fn ready_line(nonce: &str) -> String {
    format!("converge-shell-ready-{nonce}")
}

/// The loop, as one line (a login shell such as csh must not see newlines inside quotes).
/// `nonce` names the temp directory and the ready line.
pub fn loop_script(nonce: &str) -> String {
    let ready = ready_line(nonce);
    [
        "D=",
        &format!(
            "for T in \"${{TMPDIR:-/tmp}}\" /tmp /var/tmp /dev/shm; do D=$T/.converge-$$-{nonce}; mkdir -m 700 \"$D\" 2>/dev/null && break; D=; done"
        ),
        "[ -n \"$D\" ] || { echo 'converge: no writable temp directory on the host ($TMPDIR, /tmp, /var/tmp, /dev/shm)' >&2; exit 97; }",
        "trap 'rm -rf \"$D\"' EXIT",
        "trap 'exit 129' HUP INT TERM PIPE",
        // GNU head reads no further than asked on a pipe; BusyBox's reads ahead. Found out
        // on the first payload, so a run that sends none starts no process for it.
        "rd() { if [ -z \"$R\" ]; then R=dd; [ \"$(printf ab | { head -c 1 >/dev/null; cat; })\" = b ] && R=head; fi; \
         if [ \"$R\" = head ]; then head -c \"$1\"; else dd bs=1 count=\"$1\" 2>/dev/null; fi; }",
        &format!("echo {ready}"),
        "NL=$(printf '\\nx'); NL=${NL%x}",
        "n=0",
        // Per request: the script's lines are read by `read` (a builtin: no process), the
        // payload by `rd` and checked by the mark after it; the outputs are sent by `cat`
        // only when not empty, each followed by the request's mark. Outputs are removed every
        // 64 requests and with the directory at the end.
        "while read -r k s p m; do n=$((n+1)); o=$D/o$n; e=$D/e$n; i=/dev/null; c=; j=0; \
         while [ \"$j\" -lt \"$s\" ]; do IFS= read -r l || exit 98; c=$c$l$NL; j=$((j+1)); done; \
         if [ \"$p\" -gt 0 ]; then i=$D/i; rd \"$p\" >\"$i\"; read -r l || exit 98; [ \"$l\" = \"$m\" ] || exit 98; fi; \
         if [ \"$k\" = m ]; then eval \"$c\" <\"$i\" >\"$o\" 2>\"$e\"; st=$?; elif [ \"$k\" = r ]; then ( m=; eval \"$c\" ) <\"$i\" 2>\"$e\" 9>&-; st=$?; \
         else ( m=; eval \"$c\" ) <\"$i\" >\"$o\" 2>\"$e\" 9>&-; st=$?; fi; \
         [ ! -s \"$o\" ] || cat \"$o\"; printf %s \"$m\"; [ ! -s \"$e\" ] || cat \"$e\"; printf '%s %s\\n' \"$m\" \"$st\"; \
         [ $((n % 64)) -ne 0 ] || rm -f \"$D\"/[oe]*; done",
    ]
    .join("; ")
}

/// The line that starts the loop on a fresh channel of the login shell.
pub fn login_line(nonce: &str) -> String {
    format!("exec /bin/sh -c {}", quote(&loop_script(nonce)))
}

/// A request's bytes: header (kind, the script's number of lines, the payload's length),
/// the script, the payload. The loop reads the script line by line and runs it only once
/// every line has come, so a truncated script runs nothing.
pub fn encode_request(kind: Kind, script: &str, payload: &[u8], mark: &str) -> Vec<u8> {
    let mut body = script.to_string();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    let lines = body.matches('\n').count();
    let kind = match kind {
        Kind::Command => 'x',
        Kind::Main => 'm',
        Kind::Read => 'r',
    };
    let mut bytes = format!("{kind} {lines} {} {mark}\n", payload.len()).into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    if !payload.is_empty() {
        bytes.extend_from_slice(payload);
        bytes.extend_from_slice(format!("{mark}\n").as_bytes());
    }
    bytes
}

/// A mark unlikely to appear in any output: 128 random bits, new for every request, never
/// shown to the command (the subshell clears it before running the script).
pub fn new_mark() -> String {
    let mut bytes = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let fallback = super::script::nonce();
        return format!("cvg{fallback}");
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("cvg{hex}")
}

/// Clears the loop's variables and function, so that a module's `sh -c` script run inline
/// (`script::inline_line`) starts as in a fresh shell. `$D` stays: the loop's requests use it.
pub const FRESH: &str = "unset n o e i c j k s p l NL R st T; unset -f rd";

/// One read of a batch (see [`batch_script`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRead {
    /// The line that makes it alone.
    pub line: String,
    /// For a read of a path (a stat, a file's content): the path, and how it is read.
    pub path: Option<(String, PathRead)>,
}

/// The status a batch's read answers with when the batch's file block holds its answer.
const FROM_FILES: i32 = 999;

/// One request that makes several reads (see `Connection::read_ahead`): each line runs in
/// a subshell of its own, as a request's script does, with standard input from /dev/null,
/// its stdout straight into the request's output (reads start no daemon) and its stderr
/// through a file (a module's `sh -c` script inline, see `script::inline_line`); each answer
/// is framed as a reply is, by `mark` and the read's number, so [`split_batch`] takes them
/// apart with [`take_reply`]. The first line names the request in `-vv`.
///
/// Reads of paths share two processes: shell builtins sort the paths into regular files,
/// absent paths and others (links, directories, unreadable files), one `stat` and one `cat`
/// read every regular file (the contents parted by a random mark in a file of the loop's
/// temp directory, so no size is trusted), and a read of a regular file or an absent path
/// answers with a status no command has; the others run their own line.
pub fn batch_script(reads: &[BatchRead], mark: &str) -> String {
    // A module's `sh -c` script may run here (`script::inline_line`): it starts without the
    // loop's variables and function, as in a fresh shell; `$D` serves the batch itself.
    // The loop reads a request a byte at a time, so the marks share a prefix `$M` and every
    // read is framed by one function, `A SUFFIX LINE`, which runs the line in a subshell
    // without the batch's variables, function and arguments.
    let mut script = format!(
        "# {} reads made ahead\n{FRESH}\nM={mark}\n\
         A() {{ m=$1 l=$2; set --; ( unset -f A; unset f s p m M; eval \"unset l; $l\" ) </dev/null 2>\"$D/q\"; s=$?; \
         printf %s \"$M$m\"; [ ! -s \"$D/q\" ] || cat \"$D/q\"; printf '%s %s\\n' \"$M$m\" \"$s\"; }}\n",
        reads.len()
    );
    let paths = batch_paths(reads);
    if !paths.is_empty() {
        let quoted: Vec<String> = paths.iter().map(|p| quote(p)).collect();
        script.push_str(&format!(
            "printf %s \"$M\"{SEPARATOR} >\"$D/s\"; set --; f=; for p in {}; do \
             if [ -f \"$p\" ] && [ ! -L \"$p\" ] && [ -r \"$p\" ]; then set -- \"$@\" \"$p\" \"$D/s\"; f=${{f}}f; \
             elif [ -e \"$p\" ] || [ -L \"$p\" ]; then f=${{f}}o; else f=${{f}}a; fi; done\n",
            quoted.join(" "),
        ));
        // The file list is the block's arguments: framed here, not by `A`.
        script.push_str(&format!(
            "( printf '%s\\n' \"$f\"; [ $# -eq 0 ] || {{ stat --printf {} -- \"$@\" && exec cat -- \"$@\"; }} ) </dev/null 2>\"$D/q\"; s=$?; \
             printf %s \"$M\"{FILES}; [ ! -s \"$D/q\" ] || cat \"$D/q\"; printf '%s %s\\n' \"$M\"{FILES} \"$s\"\nset --\n",
            super::script::STAT_FORMAT
        ));
    }
    for (index, read) in reads.iter().enumerate() {
        let suffix = batch_suffix(index);
        let alone = format!("A {suffix} {}", quote(&read.line));
        match &read.path {
            Some((path, _)) => {
                let at = paths.iter().position(|p| p == path).unwrap_or_default();
                script.push_str(&format!(
                    "case $f in {}[fa]*) printf '%s%s {FROM_FILES}\\n' \"$M\"{suffix} \"$M\"{suffix} ;; *) {alone} ;; esac\n",
                    "?".repeat(at),
                ));
            }
            None => {
                script.push_str(&alone);
                script.push('\n');
            }
        }
    }
    script
}

/// The paths a batch reads, each once, in order.
fn batch_paths(reads: &[BatchRead]) -> Vec<&str> {
    let mut paths: Vec<&str> = Vec::new();
    for (path, _) in reads.iter().filter_map(|read| read.path.as_ref()) {
        if !paths.contains(&path.as_str()) {
            paths.push(path);
        }
    }
    paths
}

/// The answers of a [`batch_script`], one per read: `None` for a read whose answer did not
/// come whole (a file changed between its stat and its content), which is then made again
/// alone. `None` in all when the batch did not print everything it should.
pub fn split_batch(
    mut stdout: Vec<u8>,
    mark: &str,
    reads: &[BatchRead],
) -> Option<Vec<Option<Output>>> {
    let paths = batch_paths(reads);
    let files = if paths.is_empty() {
        None
    } else {
        let block = take_reply(&mut stdout, &files_mark(mark)).ok()??;
        Some(FilesBlock::parse(
            block,
            paths.len(),
            &files_separator(mark),
        ))
    };
    let mut answers = Vec::with_capacity(reads.len());
    for (index, read) in reads.iter().enumerate() {
        let answer = take_reply(&mut stdout, &batch_mark(mark, index)).ok()??;
        answers.push(match (&read.path, &files) {
            (Some((path, how)), Some(files)) if answer.status == FROM_FILES => {
                let at = paths.iter().position(|p| p == path)?;
                files.answer(at, *how)
            }
            (_, _) if answer.status == FROM_FILES => return None,
            _ => Some(answer),
        });
    }
    stdout.is_empty().then_some(answers)
}

/// What a batch's file block printed: the kind of each path (`f` regular file, `a` absent,
/// `o` other), then every regular file's stat lines and content.
struct FilesBlock {
    kinds: Vec<u8>,
    /// Per path: its stat lines and content, for the regular files when the block ran whole.
    regular: Vec<Option<(Vec<u8>, Vec<u8>)>>,
}

impl FilesBlock {
    fn parse(block: Output, count: usize, separator: &str) -> FilesBlock {
        let mut regular = vec![None; count];
        let out = block.stdout;
        let Some(first) = out.iter().position(|b| *b == b'\n') else {
            return FilesBlock {
                kinds: Vec::new(),
                regular,
            };
        };
        let kinds = out[..first].to_vec();
        if kinds.len() != count {
            return FilesBlock {
                kinds: Vec::new(),
                regular,
            };
        }
        if block.status == 0 {
            if let Some(parts) = Self::regular_parts(&out[first + 1..], &kinds, separator) {
                let at = kinds.iter().enumerate().filter(|(_, k)| **k == b'f');
                for ((index, _), part) in at.zip(parts) {
                    regular[index] = Some(part);
                }
            }
        }
        FilesBlock { kinds, regular }
    }

    /// The stat lines (three per file, and three for each separator after it) and the
    /// contents (each followed by the separator) of the regular files.
    fn regular_parts(
        mut rest: &[u8],
        kinds: &[u8],
        separator: &str,
    ) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        let files = kinds.iter().filter(|k| **k == b'f').count();
        let mut stats = Vec::with_capacity(files);
        for _ in 0..files {
            let (stat, after) = split_lines(rest, 3)?;
            let (_, after) = split_lines(after, 3)?;
            stats.push(stat.to_vec());
            rest = after;
        }
        let separator = separator.as_bytes();
        let mut parts = Vec::with_capacity(files);
        for stat in stats {
            let end = find(rest, separator, 0)?;
            parts.push((stat, rest[..end].to_vec()));
            rest = &rest[end + separator.len()..];
        }
        rest.is_empty().then_some(parts)
    }

    fn answer(&self, at: usize, how: PathRead) -> Option<Output> {
        match self.kinds.get(at)? {
            b'a' => Some(how.absent_answer()),
            b'f' => {
                let (stat, content) = self.regular.get(at)?.as_ref()?;
                Some(how.regular_answer(stat, content))
            }
            _ => None,
        }
    }
}

/// The first `count` lines of `bytes` (with their newlines), and the rest.
fn split_lines(bytes: &[u8], count: usize) -> Option<(&[u8], &[u8])> {
    let mut end = 0;
    for _ in 0..count {
        end += bytes[end..].iter().position(|b| *b == b'\n')? + 1;
    }
    Some(bytes.split_at(end))
}

/// What follows the batch's mark for a read's answer; fixed width, so that no read's mark
/// is the start of another's.
fn batch_suffix(index: usize) -> String {
    format!("r{index:05}")
}

fn batch_mark(mark: &str, index: usize) -> String {
    format!("{mark}{}", batch_suffix(index))
}

/// What follows the batch's mark for the file block's answer, and for the separator
/// between its files.
const FILES: &str = "files";
const SEPARATOR: &str = "sep";

fn files_mark(mark: &str) -> String {
    format!("{mark}{FILES}")
}

fn files_separator(mark: &str) -> String {
    format!("{mark}{SEPARATOR}")
}

/// Take one reply off the front of `buf` when it is complete: stdout, the mark, stderr, the
/// mark, ` STATUS` and a newline.
pub fn take_reply(buf: &mut Vec<u8>, mark: &str) -> Result<Option<Output>, String> {
    let mark = mark.as_bytes();
    let Some(first) = find(buf, mark, 0) else {
        return Ok(None);
    };
    let Some(second) = find(buf, mark, first + mark.len()) else {
        return Ok(None);
    };
    let after = second + mark.len();
    let Some(end) = buf[after..].iter().position(|b| *b == b'\n') else {
        if buf.len() - after > 16 {
            return Err(bad_reply(&buf[after..]));
        }
        return Ok(None);
    };
    let status = std::str::from_utf8(&buf[after..after + end])
        .ok()
        .and_then(|s| s.strip_prefix(' '))
        .and_then(|s| s.parse::<i32>().ok())
        .ok_or_else(|| bad_reply(&buf[after..after + end]))?;
    let stdout = buf[..first].to_vec();
    let stderr = buf[first + mark.len()..second].to_vec();
    buf.drain(..after + end + 1);
    Ok(Some(Output {
        status,
        stdout,
        stderr,
    }))
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn bad_reply(bytes: &[u8]) -> String {
    let shown: String = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned();
    format!("the remote shell sent an unexpected reply: {shown:?}")
}

/// How a shell's start ended.
pub enum Started {
    /// The loop runs.
    Ready(Shell),
    /// The launcher ended before the loop started (sudo refused, `sh` missing): its status
    /// and output, as a command's.
    Refused(Output),
}

/// The sudo password exchange at the start of a become shell.
#[derive(Debug, Clone)]
pub struct Password<'a> {
    /// The prompt sudo prints on stderr (unique to this start).
    pub prompt: &'a str,
    /// The password, written to sudo's stdin once the prompt shows.
    pub secret: &'a str,
}

/// A running loop on one channel.
pub struct Shell {
    channel: Channel,
    /// Bytes read from stdout not yet taken as a reply.
    out: Vec<u8>,
    /// What the loop itself wrote on stderr (its own failures).
    err: Vec<u8>,
    /// Requests served.
    pub requests: u64,
}

/// What the pump should do next.
enum Step<T> {
    Done(T),
    Wait,
    Send(Vec<u8>),
}

/// Where a shell lives: the session and how to tell the link is alive.
#[derive(Clone, Copy)]
pub struct Link<'a> {
    /// The session.
    pub session: &'a Session,
    /// Its socket, to wait on.
    pub fd: RawFd,
    /// When the server was last heard from.
    pub liveness: &'a Liveness,
    /// Timeouts and keepalives.
    pub limits: &'a Limits,
}

impl Shell {
    /// Open a channel and exec `line`, which must start the loop (directly or through sudo
    /// or su), then wait for the ready line, answering sudo's prompt with `password`.
    pub fn start(
        link: Link<'_>,
        line: &str,
        nonce: &str,
        password: Option<Password<'_>>,
    ) -> Result<Started, ExecError> {
        let timeout = link.limits.blocking().unwrap_or_default();
        let fail = |what: &str, e: ssh2::Error| session_error(link.limits, what, &e, timeout);
        link.session.set_blocking(true);
        let mut channel = link
            .session
            .channel_session()
            .map_err(|e| fail("open channel", e))?;
        channel.exec(line).map_err(|e| fail("exec", e))?;
        let mut shell = Shell {
            channel,
            out: Vec::new(),
            err: Vec::new(),
            requests: 0,
        };
        let ready = format!("{}\n", ready_line(nonce));
        let mut prompts_seen = 0;
        let started = shell.pump(link, Vec::new(), |out, err, eof| {
            // A login script may print before the loop starts: drop what comes before.
            if let Some(at) = find_line(out, ready.as_bytes()) {
                out.drain(..at + ready.len());
                return Ok(Step::Done(true));
            }
            if let Some(p) = &password {
                let seen = count(err, p.prompt.as_bytes());
                if seen > prompts_seen {
                    prompts_seen = seen;
                    if prompts_seen > 1 {
                        return Err(ExecError::BecomePassword);
                    }
                    return Ok(Step::Send(format!("{}\n", p.secret).into_bytes()));
                }
            }
            if eof {
                return Ok(Step::Done(false));
            }
            Ok(Step::Wait)
        })?;
        if started {
            if let Some(p) = &password {
                strip_all(&mut shell.err, p.prompt.as_bytes());
            }
            return Ok(Started::Ready(shell));
        }
        link.session.set_blocking(true);
        let _ = shell.channel.wait_close();
        let status = shell.channel.exit_status().unwrap_or(-1);
        let mut stderr = std::mem::take(&mut shell.err);
        if let Some(p) = &password {
            strip_all(&mut stderr, p.prompt.as_bytes());
        }
        Ok(Started::Refused(Output {
            status,
            stdout: std::mem::take(&mut shell.out),
            stderr,
        }))
    }

    /// Send one request and wait for its reply.
    pub fn request(
        &mut self,
        link: Link<'_>,
        kind: Kind,
        script: &str,
        payload: &[u8],
    ) -> Result<Output, ExecError> {
        self.requests += 1;
        let mark = new_mark();
        let bytes = encode_request(kind, script, payload, &mark);
        self.pump(link, bytes, |out, err, eof| match take_reply(out, &mark) {
            Ok(Some(output)) => Ok(Step::Done(output)),
            Ok(None) if eof => {
                let text = String::from_utf8_lossy(err).trim().to_string();
                Err(ExecError::Session(if text.is_empty() {
                    "the remote shell ended".to_string()
                } else {
                    format!("the remote shell ended: {text}")
                }))
            }
            Ok(None) => Ok(Step::Wait),
            Err(reason) => Err(ExecError::Session(reason)),
        })
    }

    /// Close stdin (the loop ends and removes its temp directory) and the channel.
    pub fn close(mut self, session: &Session) {
        session.set_blocking(true);
        let _ = self.channel.send_eof();
        let _ = self.channel.close();
    }

    /// Write `send` while reading both streams, until `check` says done. Sends keepalives
    /// while waiting, fails on a dead link or a request that outlives `--command-timeout`.
    fn pump<T>(
        &mut self,
        link: Link<'_>,
        mut send: Vec<u8>,
        mut check: impl FnMut(&mut Vec<u8>, &mut Vec<u8>, bool) -> Result<Step<T>, ExecError>,
    ) -> Result<T, ExecError> {
        let Link {
            session,
            fd,
            liveness,
            limits,
        } = link;
        session.set_blocking(false);
        let result = (|| {
            let mut written = 0;
            let mut eof = false;
            let mut last_progress = Instant::now();
            let mut last_keepalive = Instant::now();
            // On the stack: a heap buffer per request would be held by every host at once.
            let mut buf = [0u8; READ_CHUNK];
            loop {
                let mut progress = false;
                while written < send.len() {
                    match self.channel.write(&send[written..]) {
                        Ok(0) => break,
                        Ok(n) => {
                            written += n;
                            progress = true;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(ExecError::Session(format!("write to channel: {e}"))),
                    }
                }
                for stream_id in [0, 1] {
                    let mut stream = self.channel.stream(stream_id);
                    let sink = if stream_id == 0 {
                        &mut self.out
                    } else {
                        &mut self.err
                    };
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) => {
                                if stream_id == 0 {
                                    eof = true;
                                }
                                break;
                            }
                            Ok(n) => {
                                sink.extend_from_slice(&buf[..n]);
                                progress = true;
                            }
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => {
                                return Err(ExecError::Session(format!("read from channel: {e}")))
                            }
                        }
                    }
                }
                let eof = eof || self.channel.eof();
                match check(&mut self.out, &mut self.err, eof && written == send.len())? {
                    Step::Done(value) => return Ok(value),
                    Step::Send(bytes) => {
                        send.drain(..written);
                        written = 0;
                        send.extend_from_slice(&bytes);
                        progress = true;
                    }
                    Step::Wait => {}
                }
                if progress {
                    last_progress = Instant::now();
                    continue;
                }
                let mut wait = Duration::from_millis(500);
                if let Some(keepalive) = limits.keepalive {
                    let interval = Duration::from_secs(u64::from(keepalive.interval));
                    let since = last_keepalive.elapsed();
                    if since >= interval {
                        // See exec.rs: libssh2 sends only with an interval set, and cuts
                        // blocking calls short while one is.
                        session.set_keepalive(true, 1);
                        let sent = session.keepalive_send();
                        session.set_keepalive(true, 0);
                        sent.map_err(|e| {
                            ExecError::Session(describe("keepalive", &e, Duration::ZERO))
                        })?;
                        last_keepalive = Instant::now();
                    } else {
                        wait = wait.min(interval - since);
                    }
                }
                if let Some(limit) = limits.command_timeout {
                    let idle = last_progress.elapsed();
                    if idle >= limit {
                        return Err(ExecError::Session(format!(
                            "timed out after {} without an answer (--command-timeout)",
                            seconds(limit)
                        )));
                    }
                    wait = wait.min(limit - idle);
                }
                if let (Some(keepalive), Some(silence)) = (limits.keepalive, liveness.silence()) {
                    if silence >= keepalive.dead_after() {
                        return Err(ExecError::Session(keepalive.dead_reason(silence)));
                    }
                }
                wait_socket(session, fd, wait);
            }
        })();
        session.set_blocking(true);
        result
    }
}

fn session_error(limits: &Limits, what: &str, e: &ssh2::Error, timeout: Duration) -> ExecError {
    ExecError::Session(
        if e.code() == ErrorCode::Session(-9) && limits.keepalive.is_some() {
            format!(
                "{what}: no answer from the host for {}; the link is down",
                seconds(timeout)
            )
        } else {
            describe(what, e, timeout)
        },
    )
}

/// Sleep until the session's socket is ready in the direction libssh2 is waiting for.
fn wait_socket(session: &Session, fd: RawFd, max: Duration) {
    let events = match session.block_directions() {
        BlockDirections::Outbound => libc::POLLOUT,
        BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
        _ => libc::POLLIN,
    };
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = max.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd, the count says 1.
    unsafe {
        libc::poll(&mut pfd, 1, ms);
    }
}

/// Where `line` (ending in a newline) starts a line of `haystack`.
fn find_line(haystack: &[u8], line: &[u8]) -> Option<usize> {
    haystack
        .windows(line.len())
        .enumerate()
        .find(|(i, w)| *w == line && (*i == 0 || haystack[i - 1] == b'\n'))
        .map(|(i, _)| i)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() {
        return 0;
    }
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

fn strip_all(haystack: &mut Vec<u8>, needle: &[u8]) {
    if needle.is_empty() {
        return;
    }
    while let Some(pos) = haystack.windows(needle.len()).position(|w| w == needle) {
        haystack.drain(pos..pos + needle.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    #[test]
    fn replies_are_taken_whole_and_only_when_complete() {
        let mut buf = b"ab\nMKe!".to_vec();
        assert_eq!(take_reply(&mut buf, "MK"), Ok(None));
        buf.extend_from_slice(b"MK 3");
        assert_eq!(take_reply(&mut buf, "MK"), Ok(None));
        buf.extend_from_slice(b"\nnext");
        let first = take_reply(&mut buf, "MK")
            .expect("valid")
            .expect("complete");
        assert_eq!(
            (first.status, first.stdout, first.stderr),
            (3, b"ab\n".to_vec(), b"e!".to_vec())
        );
        assert_eq!(buf, b"next");
        assert!(take_reply(&mut b"MKMKgarbage here\n".to_vec(), "MK").is_err());
        assert_ne!(new_mark(), new_mark());
    }

    /// Drive the loop with a local `sh` (dash or bash), as the channel would.
    fn local_loop(shell: &Sh, requests: &[(Kind, &str, &[u8])]) -> (Vec<Output>, String) {
        static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nonce = format!("t{}x{call}", std::process::id());
        // `sh` as argv[0]: bash installed as /bin/sh runs in POSIX mode.
        let mut child = shell
            .command()
            .arg("-c")
            .arg(loop_script(&nonce))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let mut input = Vec::new();
        let marks: Vec<String> = requests.iter().map(|_| new_mark()).collect();
        for ((kind, script, payload), mark) in requests.iter().zip(&marks) {
            input.extend(encode_request(*kind, script, payload, mark));
        }
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait");
        writer.join().expect("writer");
        let mut buf = out.stdout;
        let ready = format!("{}\n", ready_line(&nonce));
        assert!(buf.starts_with(ready.as_bytes()), "{buf:?}");
        buf.drain(..ready.len());
        let mut replies = Vec::new();
        for mark in &marks {
            match take_reply(&mut buf, mark).expect("valid reply") {
                Some(reply) => replies.push(reply),
                None => break,
            }
        }
        assert!(buf.is_empty(), "left over: {buf:?}");
        let temp = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
        let suffix = format!("-{nonce}");
        let left: Vec<_> = std::fs::read_dir(temp)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(&suffix))
            .collect();
        assert!(
            left.is_empty(),
            "the loop left its temp directory: {left:?}"
        );
        (replies, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// A shell to run the loop with: dash, bash as `sh` (POSIX mode), and BusyBox with only
    /// its own applets on PATH (its `head` reads ahead on a pipe: the loop must use `dd`).
    struct Sh {
        path: &'static str,
        only_applets: Option<tempfile::TempDir>,
    }

    impl Sh {
        fn command(&self) -> Command {
            let mut command = Command::new(self.path);
            // `sh` as argv[0]: bash installed as /bin/sh runs in POSIX mode.
            command.arg0("sh");
            if let Some(dir) = &self.only_applets {
                command.env("PATH", dir.path());
            }
            command
        }
    }

    impl std::fmt::Display for Sh {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.path)
        }
    }

    fn shells() -> Vec<Sh> {
        let mut shells: Vec<Sh> = ["/bin/dash", "/bin/bash"]
            .into_iter()
            .filter(|s| std::path::Path::new(s).exists())
            .map(|path| Sh {
                path,
                only_applets: None,
            })
            .collect();
        if std::path::Path::new("/bin/busybox").exists() {
            let dir = tempfile::tempdir().expect("temp dir");
            for applet in [
                "sh", "head", "dd", "wc", "cat", "rm", "mkdir", "sleep", "touch", "kill", "true",
            ] {
                std::os::unix::fs::symlink("/bin/busybox", dir.path().join(applet))
                    .expect("symlink");
            }
            shells.push(Sh {
                path: "/bin/busybox",
                only_applets: Some(dir),
            });
        }
        shells
    }

    #[test]
    fn the_loop_frames_binary_unterminated_and_empty_output_and_isolates_stdin() {
        let binary: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
        for sh in &shells() {
            let (replies, stderr) = local_loop(
                sh,
                &[
                    (Kind::Command, "printf 'no newline'", b""),
                    (Kind::Command, "cat", &binary),
                    (Kind::Read, "cat", &binary),
                    (Kind::Command, "echo out; echo err >&2; exit 3", b""),
                    // stdin is /dev/null: the request stream is out of reach.
                    (Kind::Command, "cat; echo \"[$?]\"", b""),
                    (Kind::Command, "exec true", b""),
                    (Kind::Command, "sh -c 'kill -TERM $$'", b""),
                    (Kind::Command, "echo still here", b""),
                ],
            );
            assert_eq!(stderr, "", "{sh}");
            assert_eq!(replies.len(), 8, "{sh}");
            assert_eq!(replies[0].stdout, b"no newline", "{sh}");
            assert_eq!(replies[1].stdout, binary, "{sh}");
            // A read's stdout goes straight on the channel, framed the same.
            let mut replies = replies;
            let read = replies.remove(2);
            assert_eq!((read.status, &read.stdout), (0, &binary), "{sh}");
            assert_eq!(
                (
                    replies[2].status,
                    &replies[2].stdout[..],
                    &replies[2].stderr[..]
                ),
                (3, &b"out\n"[..], &b"err\n"[..]),
                "{sh}"
            );
            assert_eq!(replies[3].stdout, b"[0]\n", "{sh}");
            assert_eq!(replies[4].status, 0, "{sh}");
            assert_eq!(replies[5].status, 128 + 15, "{sh}");
            assert_eq!(replies[6].stdout, b"still here\n", "{sh}");
        }
    }

    #[test]
    fn a_batch_of_reads_answers_each_as_its_own_request_would() {
        let dir = tempfile::tempdir().expect("temp dir");
        let at = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        let file = at("a b.conf");
        std::fs::write(&file, b"x=1\nno newline").expect("write");
        std::fs::write(at("empty"), b"").expect("write");
        std::os::unix::fs::symlink(&file, at("link")).expect("symlink");
        let path = |path: &str, how: PathRead| BatchRead {
            line: how.line(path),
            path: Some((path.to_string(), how)),
        };
        let plain = |line: &str| BatchRead {
            line: line.to_string(),
            path: None,
        };
        let reads = vec![
            path(&file, PathRead::Content),
            path(&file, PathRead::StatAndContent),
            // Not regular files: their own lines.
            path(&at(""), PathRead::Stat),
            path(&at("link"), PathRead::StatAndContent),
            path(&at("missing"), PathRead::Content),
            // /proc's files say size 0: no size is trusted.
            path("/proc/version", PathRead::Content),
            path(&at("empty"), PathRead::Stat),
            // A read that fails, with stderr and without a final newline.
            plain("printf partial; printf 'no such key' >&2; exit 93"),
            // A module's script inline (`script::inline_line`): arguments, no loop state.
            // The batch's own state is gone too: its variables, its framing function.
            plain("set -- 'a b' c && eval 'echo \"[$#][$1][$n$c$rd$f$l$m$M]$(command -v A)\"; exit 4'"),
        ];
        for sh in &shells() {
            let mark = new_mark();
            let batch = batch_script(&reads, &mark);
            let mut requests: Vec<(Kind, &str, &[u8])> = vec![(Kind::Read, &batch, b"")];
            // Each read alone, as a request of its own, for comparison; the inline script
            // as `sh -c`, which it stands for.
            let mut alone: Vec<String> = reads.iter().map(|read| read.line.clone()).collect();
            alone[8] =
                "exec sh -c 'echo \"[$#][$1][$n$c$rd$f$l$m$M]$(command -v A)\"; exit 4' sh 'a b' c"
                    .to_string();
            requests.extend(
                alone
                    .iter()
                    .map(|line| (Kind::Read, line.as_str(), &b""[..])),
            );
            let (replies, stderr) = local_loop(sh, &requests);
            assert_eq!(stderr, "", "{sh}");
            let batch = &replies[0];
            assert_eq!(batch.status, 0, "{sh}: {batch:?}");
            let answers = split_batch(batch.stdout.clone(), &mark, &reads).expect("every answer");
            // BusyBox has no `stat --printf`: its regular files' reads come back unanswered
            // and are made again alone.
            let busybox = sh.only_applets.is_some();
            for (index, (answer, alone)) in answers.iter().zip(&replies[1..]).enumerate() {
                match answer {
                    // BusyBox names the line of an error, which differs inside the batch.
                    Some(answer) if busybox => assert_eq!(
                        (answer.status, &answer.stdout),
                        (alone.status, &alone.stdout),
                        "{sh}: read {index}"
                    ),
                    Some(answer) => assert_eq!(answer, alone, "{sh}: read {index}"),
                    None => assert!(busybox, "{sh}: read {index} unanswered"),
                }
            }
            assert_eq!(replies[1].stdout, b"x=1\nno newline", "{sh}");
            assert_eq!(replies[5].status, 93, "{sh}");
            assert!(replies[6].stdout.starts_with(b"Linux"), "{sh}");
            assert_eq!(
                (
                    replies[8].status,
                    &replies[8].stdout[..],
                    &replies[8].stderr[..]
                ),
                (93, &b"partial"[..], &b"no such key"[..]),
                "{sh}"
            );
            assert_eq!(replies[9].stdout, b"[2][a b][]\n", "{sh}");
            // A batch cut short answers nothing.
            let mut cut = batch.stdout.clone();
            cut.truncate(cut.len() - 3);
            assert_eq!(split_batch(cut, &mark, &reads), None, "{sh}");
        }
    }

    #[test]
    fn a_daemon_holding_stdout_does_not_hold_the_reply() {
        for sh in &shells() {
            let started = Instant::now();
            let (replies, _) = local_loop(
                sh,
                &[
                    (Kind::Command, "sleep 5 & echo started", b""),
                    (Kind::Command, "echo next", b""),
                ],
            );
            assert_eq!(replies[0].stdout, b"started\n");
            assert_eq!(replies[1].stdout, b"next\n");
            // wait_with_output waits for the loop's stdout to close: the daemon must not
            // hold it.
            assert!(started.elapsed() < Duration::from_secs(4), "{sh}");
        }
    }

    #[test]
    fn main_requests_keep_state_and_commands_do_not() {
        for sh in &shells() {
            let lock =
                std::env::temp_dir().join(format!("converge-shell-lock-{}", std::process::id()));
            let lock = lock.display().to_string();
            let (replies, _) = local_loop(
                sh,
                &[
                    (Kind::Main, &format!("command exec 9>>{lock}"), b""),
                    (
                        Kind::Command,
                        "[ -e /proc/self/fd/9 ] && echo open || echo closed",
                        b"",
                    ),
                    (
                        Kind::Main,
                        "[ -e /proc/self/fd/9 ] && echo open || echo closed",
                        b"",
                    ),
                    (Kind::Command, "X=1; cd /", b""),
                    (Kind::Command, "echo \"${X:-unset}\"", b""),
                ],
            );
            assert_eq!(replies[1].stdout, b"closed\n", "{sh}");
            assert_eq!(replies[2].stdout, b"open\n", "{sh}");
            assert_eq!(replies[4].stdout, b"unset\n", "{sh}");
            let _ = std::fs::remove_file(&lock);
        }
    }

    /// Start the loop, write `bytes` as its whole input (the link then drops), wait for it.
    fn feed_and_end(sh: &Sh, bytes: &[u8]) {
        let mut child = sh
            .command()
            .arg("-c")
            .arg(loop_script("trunc"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(bytes)
            .expect("write");
        let _ = child.wait_with_output();
    }

    #[test]
    fn a_truncated_request_runs_nothing() {
        for sh in &shells() {
            let marker =
                std::env::temp_dir().join(format!("converge-trunc-{}", std::process::id()));
            let script = format!("touch {}\necho done", marker.display());
            let mut bytes = encode_request(Kind::Command, &script, b"", "MK");
            bytes.truncate(bytes.len() - 12);
            feed_and_end(sh, &bytes);
            assert!(!marker.exists(), "{sh}: a truncated script ran");
            // A truncated payload: the command does not run at all.
            let mut bytes = encode_request(
                Kind::Command,
                &format!("cat > {}", marker.display()),
                b"0123456789",
                "MK",
            );
            // Cut inside the payload, before the mark that follows it.
            bytes.truncate(bytes.len() - 7);
            feed_and_end(sh, &bytes);
            assert!(
                !marker.exists(),
                "{sh}: a truncated payload reached the command"
            );
        }
    }
}
