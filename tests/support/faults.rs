//! A fault-injecting HTTP/1.1 proxy for retry tests: it forwards each request to an upstream
//! on a fresh connection (`Connection: close` both ways) unless a rule picks it, and then
//! answers 503, 429 with `Retry-After`, resets the connection (before or after forwarding),
//! forwards and cuts the response body in half, forwards with the body's bytes flipped
//! (same length: only a digest can tell), or forwards slowly. Every request is logged.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What to do to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer 503 without forwarding.
    ServiceUnavailable,
    /// Answer 429 with `Retry-After: <seconds>` without forwarding.
    TooManyRequests(u64),
    /// Close the connection with a reset, without forwarding.
    Reset,
    /// Forward (the request lands), then reset instead of answering.
    ResetAfterForward,
    /// Forward, then send the headers and half of the body, and close.
    Truncate,
    /// Forward, with every byte of the second half of the body inverted (wrong content of
    /// the right length).
    Corrupt,
    /// Forward, trickling the response out in 1 KiB pieces 10 ms apart.
    Slow,
}

/// A rule: requests whose method matches and whose path contains `path` get `fault`, `times`
/// times (`usize::MAX`: always).
#[derive(Debug, Clone)]
pub struct Rule {
    /// Method (`GET`, `PUT`...), or `None` for any.
    pub method: Option<&'static str>,
    /// A substring of the path and query.
    pub path: &'static str,
    /// The fault.
    pub fault: Fault,
    /// How many more times.
    pub times: usize,
}

/// A running proxy; stops when dropped (its runtime thread ends with the process's tests).
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    log: Arc<Mutex<Vec<String>>>,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A request forwarded without a fault, and the upstream's answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Request headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The upstream's status code (0 when it gave none).
    pub status: u16,
}

struct Request {
    head: String,
    body: Vec<u8>,
    method: String,
    path: String,
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buffer = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let head_end = loop {
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break position + 4;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut body = buffer[head_end..].to_vec();
    let lower = head.to_ascii_lowercase();
    let length = lower
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok());
    let chunked = lower.contains("transfer-encoding: chunked");
    if lower.contains("expect: 100-continue") {
        stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .ok()?;
    }
    loop {
        let done = match length {
            Some(length) => body.len() >= length,
            None if chunked => body.ends_with(b"0\r\n\r\n"),
            None => true,
        };
        if done {
            break;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    let mut parts = head.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    Some(Request {
        head,
        body,
        method,
        path,
    })
}

/// Rewrite the head to close the upstream connection after one response.
fn closing_head(head: &str) -> String {
    let mut out = String::new();
    for line in head.trim_end().split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("expect:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

async fn forward(upstream: &str, request: &Request) -> Option<Vec<u8>> {
    let mut connection = TcpStream::connect(upstream).await.ok()?;
    connection
        .write_all(closing_head(&request.head).as_bytes())
        .await
        .ok()?;
    connection.write_all(&request.body).await.ok()?;
    let mut response = Vec::new();
    connection.read_to_end(&mut response).await.ok()?;
    Some(response)
}

fn reset(stream: TcpStream) {
    #[expect(
        deprecated,
        reason = "a zero linger is the point: closing sends RST, and it never blocks"
    )]
    let _ = stream.set_linger(Some(std::time::Duration::ZERO));
    drop(stream);
}

async fn serve(
    mut stream: TcpStream,
    upstream: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    log: Arc<Mutex<Vec<String>>>,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let fault = {
        let mut rules = rules.lock().unwrap();
        rules
            .iter_mut()
            .find(|rule| {
                rule.times > 0
                    && rule.method.is_none_or(|method| method == request.method)
                    && request.path.contains(rule.path)
            })
            .map(|rule| {
                rule.times = rule.times.saturating_sub(1);
                rule.fault
            })
    };
    log.lock().unwrap().push(format!(
        "{} {} {}",
        request.method,
        request.path,
        fault.map_or_else(|| "forwarded".to_owned(), |fault| format!("{fault:?}"))
    ));
    match fault {
        Some(Fault::ServiceUnavailable) => {
            let _ = stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 11\r\nConnection: close\r\n\r\nunavailable")
                .await;
        }
        Some(Fault::TooManyRequests(seconds)) => {
            let _ = stream
                .write_all(
                    format!("HTTP/1.1 429 Too Many Requests\r\nRetry-After: {seconds}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow")
                        .as_bytes(),
                )
                .await;
        }
        Some(Fault::Reset) => reset(stream),
        Some(Fault::ResetAfterForward) => {
            let _ = forward(&upstream, &request).await;
            reset(stream);
        }
        Some(Fault::Truncate) => {
            if let Some(response) = forward(&upstream, &request).await {
                let head_end = response
                    .windows(4)
                    .position(|window| window == b"\r\n\r\n")
                    .map_or(response.len(), |position| position + 4);
                let body_length = response.len() - head_end;
                let _ = stream
                    .write_all(&response[..head_end + body_length / 2])
                    .await;
                let _ = stream.flush().await;
            }
            reset(stream);
        }
        Some(Fault::Corrupt) => {
            if let Some(mut response) = forward(&upstream, &request).await {
                let head_end = response
                    .windows(4)
                    .position(|window| window == b"\r\n\r\n")
                    .map_or(response.len(), |position| position + 4);
                let middle = head_end + (response.len() - head_end) / 2;
                for byte in &mut response[middle..] {
                    *byte = !*byte;
                }
                let _ = stream.write_all(&response).await;
                let _ = stream.shutdown().await;
            }
        }
        Some(Fault::Slow) => {
            if let Some(response) = forward(&upstream, &request).await {
                for piece in response.chunks(1024) {
                    if stream.write_all(piece).await.is_err() {
                        return;
                    }
                    let _ = stream.flush().await;
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                let _ = stream.shutdown().await;
            }
        }
        None => {
            let response = forward(&upstream, &request).await;
            let status = response
                .as_deref()
                .and_then(|response| std::str::from_utf8(response.get(..12)?).ok())
                .and_then(|line| line.get(9..12)?.parse().ok())
                .unwrap_or(0);
            let headers = request
                .head
                .split("\r\n")
                .skip(1)
                .filter_map(|line| line.split_once(':'))
                .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
                .collect();
            exchanges.lock().unwrap().push(Exchange {
                method: request.method.clone(),
                path: request.path.clone(),
                headers,
                status,
            });
            if let Some(response) = response {
                let _ = stream.write_all(&response).await;
                let _ = stream.shutdown().await;
            } else {
                reset(stream);
            }
        }
    }
}

impl FaultProxy {
    /// Start in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, rules: Vec<Rule>) -> Self {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let rules = Arc::new(Mutex::new(rules));
        let log = Arc::new(Mutex::new(Vec::new()));
        let exchanges = Arc::new(Mutex::new(Vec::new()));
        let thread_exchanges = Arc::clone(&exchanges);
        let (address_sender, address_receiver) = std::sync::mpsc::channel();
        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        let (thread_rules, thread_log) = (Arc::clone(&rules), Arc::clone(&log));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                address_sender.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stop => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            tokio::spawn(serve(
                                stream,
                                upstream.clone(),
                                Arc::clone(&thread_rules),
                                Arc::clone(&thread_log),
                                Arc::clone(&thread_exchanges),
                            ));
                        }
                    }
                }
            });
        });
        let address = address_receiver.recv().unwrap();
        Self {
            url: format!("http://{address}"),
            rules,
            log,
            exchanges,
            shutdown: Some(shutdown),
        }
    }

    /// Replace the rules.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        *self.rules.lock().unwrap() = rules;
    }

    /// Every request so far: `METHOD PATH forwarded|<fault>`.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Every request forwarded without a fault so far, with the upstream's status.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
