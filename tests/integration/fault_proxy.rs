//! A TCP fault proxy for the store tests: it listens on a free loopback port, forwards HTTP/1.1
//! requests to a real server (an OpenBao dev server), and can be switched at runtime, through a
//! shared handle, to misbehave the ways a store does in production — refuse connections, hang,
//! answer 500/503/429, close mid-body, answer 200 with malformed JSON. It counts the requests it
//! sees.
//!
//! The proxy is HTTP-aware, one request per connection: it reads a whole request, decides by the
//! fault in force *at that moment*, and answers with `Connection: close` (upstream is asked for
//! `Connection: close` too). So a client's keep-alive pool never smuggles a request past a fault
//! switched on after the connection was opened, and every switch takes effect on the next request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the proxy treats the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward to the upstream server and relay its answer.
    PassThrough,
    /// The listening socket is closed: connecting is refused (RST), nothing is counted.
    Refuse,
    /// Accept and read the request, then never answer (until the fault is switched off).
    Hang,
    /// Answer this HTTP status with a Vault-style `{"errors": […]}` body.
    Status(u16),
    /// Answer this status (429 Too Many Requests, 503 Service Unavailable) with
    /// `Retry-After: <seconds>`.
    RetryAfter { status: u16, retry_after: u32 },
    /// Send a 200's headers with a `Content-Length`, part of the body, then close.
    CloseMidBody,
    /// Answer 200 with a body that is not JSON.
    MalformedJson,
    /// Forward to the upstream server after this long: a store slow to answer, not failing.
    Slow(Duration),
}

impl Fault {
    /// A short name for test messages and table rows.
    pub fn name(self) -> String {
        match self {
            Self::PassThrough => "pass-through".into(),
            Self::Refuse => "refused connections".into(),
            Self::Hang => "a hung server".into(),
            Self::Status(code) => format!("HTTP {code}"),
            Self::RetryAfter { status, retry_after } => format!("HTTP {status} with Retry-After: {retry_after}"),
            Self::CloseMidBody => "a body cut short".into(),
            Self::MalformedJson => "malformed JSON".into(),
            Self::Slow(delay) => format!("answers after {delay:?}"),
        }
    }
}

struct State {
    fault: Fault,
    /// Whether the listening socket is open (false while refusing).
    listening: bool,
    requests: usize,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until `done` holds, at most `timeout`; whether it does.
    fn wait_for(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self.changed.wait_timeout(state, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
        true
    }
}

/// A running proxy; stopped (listener closed, hung connections released) when dropped.
pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// A cloneable handle to switch a proxy's fault and read its request count from other threads.
#[derive(Clone)]
pub struct FaultHandle {
    port: u16,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Starts a pass-through proxy in front of `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the fault proxy binds");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State { fault: Fault::PassThrough, listening: true, requests: 0, shutdown: false }),
            changed: Condvar::new(),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept_loop(listener, port, upstream, &shared))
        };
        Self { port, shared, acceptor: Some(acceptor) }
    }

    /// `http://127.0.0.1:PORT`, for a store's `address`.
    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn handle(&self) -> FaultHandle {
        FaultHandle { port: self.port, shared: Arc::clone(&self.shared) }
    }

    /// See [`FaultHandle::set`].
    pub fn set(&self, fault: Fault) {
        self.handle().set(fault);
    }

    /// See [`FaultHandle::requests`].
    pub fn requests(&self) -> usize {
        self.handle().requests()
    }
}

impl FaultHandle {
    /// Switches the fault for every later request. Returns once it is in force: when switching
    /// to or from [`Fault::Refuse`], once the listening socket is closed or open again.
    pub fn set(&self, fault: Fault) {
        let refuse = fault == Fault::Refuse;
        {
            let mut state = self.shared.lock();
            state.fault = fault;
        }
        self.shared.changed.notify_all();
        if refuse {
            // Wake the acceptor blocked in accept() so it sees the switch and closes the socket.
            let _ = TcpStream::connect(("127.0.0.1", self.port));
        }
        let in_force = self.shared.wait_for(Duration::from_secs(10), |state| state.listening != refuse);
        assert!(in_force, "the fault proxy did not switch to {}", fault.name());
    }

    /// How many requests the proxy has read so far (refused connections carry none).
    pub fn requests(&self) -> usize {
        self.shared.lock().requests
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.changed.notify_all();
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(first: TcpListener, port: u16, upstream: u16, shared: &Arc<Shared>) {
    let mut listener = Some(first);
    loop {
        let open = match listener.take() {
            Some(open) => open,
            None => {
                // Refusing: wait until another fault is set, then listen on the same port again.
                let state = shared.lock();
                let state = shared
                    .changed
                    .wait_while(state, |state| state.fault == Fault::Refuse && !state.shutdown)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if state.shutdown {
                    return;
                }
                drop(state);
                let open = rebind(port);
                shared.lock().listening = true;
                shared.changed.notify_all();
                open
            }
        };
        for stream in open.incoming() {
            let (fault, shutdown) = {
                let state = shared.lock();
                (state.fault, state.shutdown)
            };
            if shutdown {
                return;
            }
            if fault == Fault::Refuse {
                break;
            }
            let Ok(stream) = stream else { continue };
            let shared = Arc::clone(shared);
            std::thread::spawn(move || serve(stream, upstream, &shared));
        }
        // Closing the listening socket: connections now get RST (connection refused).
        drop(open);
        shared.lock().listening = false;
        shared.changed.notify_all();
    }
}

/// Binds the proxy's port again after refusing (SO_REUSEADDR, which std sets, lets it reuse a
/// port whose old connections linger in TIME_WAIT).
fn rebind(port: u16) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(listener) => return listener,
            Err(error) if Instant::now() < deadline => {
                eprintln!("fault proxy: rebinding port {port}: {error}; retrying");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => panic!("the fault proxy cannot listen on port {port} again: {error}"),
        }
    }
}

/// A request as read: its head (request line and headers, without the blank line) and body.
struct Request {
    head: Vec<String>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let length = head
        .iter()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { head, body })
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Fault",
    }
}

fn respond(stream: &mut TcpStream, code: u16, extra_headers: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
        reason_phrase(code),
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// Serves one connection: one request, answered by the fault in force when it arrived.
fn serve(stream: TcpStream, upstream: u16, shared: &Shared) {
    let Ok(reader) = stream.try_clone() else { return };
    let mut reader = BufReader::new(reader);
    let mut stream = stream;
    let Some(request) = read_request(&mut reader) else { return };
    let fault = {
        let mut state = shared.lock();
        state.requests += 1;
        state.fault
    };
    shared.changed.notify_all();
    match fault {
        Fault::PassThrough => forward(&mut stream, upstream, &request),
        // A connection accepted just before the listener closed: refuse it the same way.
        Fault::Refuse => {}
        Fault::Hang => {
            // Never answer; let go of the connection only once the fault changes (or the proxy
            // stops), long after the client has given up.
            let _ = shared.wait_for(Duration::from_secs(600), |state| state.fault != Fault::Hang || state.shutdown);
        }
        Fault::Status(code) => {
            respond(&mut stream, code, "", &format!("{{\"errors\":[\"injected fault: HTTP {code}\"]}}"));
        }
        Fault::RetryAfter { status, retry_after } => respond(
            &mut stream,
            status,
            &format!("Retry-After: {retry_after}\r\n"),
            &format!("{{\"errors\":[\"injected fault: HTTP {status}, come back in {retry_after} s\"]}}"),
        ),
        Fault::CloseMidBody => {
            let partial = "{\"request_id\":\"fault\",\"data\":{\"data\":{\"pass";
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 512\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(partial.as_bytes());
            let _ = stream.flush();
        }
        Fault::MalformedJson => respond(&mut stream, 200, "", "{\"request_id\": \"fault\", \"data\": {oops: ]"),
        Fault::Slow(delay) => {
            // The delay is the fault itself (a slow store), not a wait for something to happen.
            let _ = shared.wait_for(delay, |state| state.shutdown);
            forward(&mut stream, upstream, &request);
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Relays one request to upstream with `Connection: close`, and its whole answer back.
fn forward(client: &mut TcpStream, upstream: u16, request: &Request) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        // Upstream is down: the client sees a closed connection, as through a real proxy.
        return;
    };
    let mut head = String::new();
    for line in &request.head {
        let name = line.split_once(':').map(|(name, _)| name.trim().to_ascii_lowercase());
        if matches!(name.as_deref(), Some("connection" | "keep-alive")) {
            continue;
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    if server.write_all(head.as_bytes()).is_err() || server.write_all(&request.body).is_err() {
        return;
    }
    let mut response = Vec::new();
    if server.read_to_end(&mut response).is_ok() {
        let _ = client.write_all(&response);
    }
}
