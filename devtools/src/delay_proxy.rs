//! A latency model of DynamoDB that runs here: an HTTP/1.1 proxy in front of DynamoDB Local that
//! holds every request for a fixed time (`DDB_DELAY_MS`, default 5 ms: a same-region DynamoDB
//! call) before passing it on, and records each request: its operation (`X-Amz-Target`), when
//! it arrived whole and when its answer was handed back, and the capacity DynamoDB Local says it
//! consumed (the proxy adds `"ReturnConsumedCapacity": "TOTAL"` to the data-plane requests that
//! lack it; DynamoDB Local does not check signatures).
//!
//! Blocking I/O, one thread per client connection: `std::thread::sleep` keeps the delay within
//! about 0.1 ms, where a tokio timer rounds up to the next millisecond, and the proxy takes no
//! time from the caller's runtime. The proxy's own CPU time is counted ([`Proxy::cpu_time`]) so
//! that a caller in the same process can subtract it from its own.
//!
//! `tests/benches/api.rs` (`make bench`, section `routes`) runs it in process;
//! `ddb-delay-proxy <port> <upstream host:port>` runs it alone (docs/benchmarks.md).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The delay of `DDB_DELAY_MS` (default 5 ms).
pub fn delay_from_env() -> Duration {
    let ms = std::env::var("DDB_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(5.0);
    Duration::from_secs_f64(ms / 1000.0)
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The operation, e.g. `TransactWriteItems` (`X-Amz-Target` without its prefix).
    pub operation: String,
    /// When the request had arrived whole (before the delay).
    pub start: Instant,
    /// When its answer had been handed back to the client.
    pub end: Instant,
    /// Capacity units consumed, as DynamoDB Local reports them (0 when it does not).
    pub capacity_units: f64,
}

impl Request {
    /// Whether the operation is billed in write request units.
    pub fn is_write(&self) -> bool {
        matches!(
            self.operation.as_str(),
            "PutItem"
                | "UpdateItem"
                | "DeleteItem"
                | "BatchWriteItem"
                | "TransactWriteItems"
                | "ExecuteStatement"
        )
    }
}

/// What a list of requests adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub round_trips: usize,
    /// The critical path: groups of requests whose intervals overlap count once.
    pub sequential: usize,
    pub read_units: f64,
    pub write_units: f64,
}

/// The number of non-overlapping groups among `intervals` (start, end): requests made
/// concurrently count once, requests made one after the other count each.
pub fn sequential_round_trips(intervals: &[(Instant, Instant)]) -> usize {
    let mut sorted: Vec<_> = intervals.to_vec();
    sorted.sort_by_key(|(start, _)| *start);
    let mut groups = 0;
    let mut group_end: Option<Instant> = None;
    for (start, end) in sorted {
        match group_end {
            Some(e) if start < e => group_end = Some(e.max(end)),
            _ => {
                groups += 1;
                group_end = Some(end);
            }
        }
    }
    groups
}

pub fn summarise(requests: &[Request]) -> Summary {
    let intervals: Vec<_> = requests.iter().map(|r| (r.start, r.end)).collect();
    let (reads, writes): (Vec<_>, Vec<_>) = requests.iter().partition(|r| !r.is_write());
    Summary {
        round_trips: requests.len(),
        sequential: sequential_round_trips(&intervals),
        // fold, not sum: an empty f64 sum is -0.0.
        read_units: reads.iter().fold(0.0, |sum, r| sum + r.capacity_units),
        write_units: writes.iter().fold(0.0, |sum, r| sum + r.capacity_units),
    }
}

/// A running proxy; it serves until the process ends.
#[derive(Clone)]
pub struct Proxy {
    pub addr: SocketAddr,
    pub delay: Duration,
    requests: Arc<Mutex<Vec<Request>>>,
    cpu_nanos: Arc<AtomicU64>,
}

impl Proxy {
    /// Listens on 127.0.0.1:`port` (0: any free port) and forwards to `upstream` (`host:port`).
    pub fn start(port: u16, upstream: &str, delay: Duration) -> io::Result<Self> {
        let upstream = upstream
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::other("upstream has no address"))?;
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let proxy = Self {
            addr: listener.local_addr()?,
            delay,
            requests: Arc::default(),
            cpu_nanos: Arc::default(),
        };
        let serving = proxy.clone();
        std::thread::Builder::new()
            .name("delay-proxy".into())
            .spawn(move || {
                for client in listener.incoming().flatten() {
                    let proxy = serving.clone();
                    let _ = std::thread::Builder::new()
                        .name("delay-proxy-conn".into())
                        .spawn(move || {
                            // A connection ends with an error or at the client's close.
                            let _ = proxy.serve(client, upstream);
                        });
                }
            })?;
        Ok(proxy)
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests recorded since the last call.
    pub fn take(&self) -> Vec<Request> {
        std::mem::take(&mut *self.requests.lock().expect("requests"))
    }

    /// CPU time the proxy's threads have spent relaying, in total.
    pub fn cpu_time(&self) -> Duration {
        Duration::from_nanos(self.cpu_nanos.load(Ordering::Relaxed))
    }

    fn serve(&self, client: TcpStream, upstream: SocketAddr) -> io::Result<()> {
        client.set_nodelay(true)?;
        let mut client_in = BufReader::new(client.try_clone()?);
        let mut client_out = client;
        let mut server = Upstream::connect(upstream)?;
        loop {
            // CPU time while blocked in a read is nil, so this counts the relaying only.
            let cpu_before = thread_cpu_time();
            let Some(mut request) = read_message(&mut client_in)? else {
                return Ok(());
            };
            let start = Instant::now();
            let operation = request
                .header("x-amz-target")
                .and_then(|t| t.rsplit('.').next())
                .unwrap_or_default()
                .to_owned();
            if returns_capacity(&operation) {
                request.ask_for_consumed_capacity();
            }
            let cpu_mid = thread_cpu_time();
            std::thread::sleep(self.delay);
            let cpu_resumed = thread_cpu_time();
            let encoded = request.encode();
            // DynamoDB Local may have closed an idle connection: then once more on a new one.
            let response = match server.exchange(&encoded) {
                Ok(response) => response,
                Err(_) => {
                    server = Upstream::connect(upstream)?;
                    server.exchange(&encoded)?
                }
            };
            // Recorded before the client has its answer: by the time a caller's call returns,
            // every request of it is in the record.
            let encoded = response.encode();
            self.requests.lock().expect("requests").push(Request {
                operation,
                start,
                end: Instant::now(),
                capacity_units: consumed_capacity(&response.body),
            });
            client_out.write_all(&encoded)?;
            let spent = (cpu_mid - cpu_before) + (thread_cpu_time() - cpu_resumed);
            self.cpu_nanos
                .fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
        }
    }
}

/// A keep-alive connection to the upstream.
struct Upstream {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Upstream {
    fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Self {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    fn exchange(&mut self, request: &[u8]) -> io::Result<Message> {
        self.writer.write_all(request)?;
        read_message(&mut self.reader)?.ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
    }
}

/// The data-plane operations that accept `ReturnConsumedCapacity`.
fn returns_capacity(operation: &str) -> bool {
    matches!(
        operation,
        "GetItem"
            | "PutItem"
            | "UpdateItem"
            | "DeleteItem"
            | "Query"
            | "Scan"
            | "BatchGetItem"
            | "BatchWriteItem"
            | "TransactGetItems"
            | "TransactWriteItems"
    )
}

/// The sum of `CapacityUnits` in a response's `ConsumedCapacity` (an object or a list of them).
fn consumed_capacity(body: &[u8]) -> f64 {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return 0.0;
    };
    let units = |c: &serde_json::Value| c["CapacityUnits"].as_f64().unwrap_or(0.0);
    match &value["ConsumedCapacity"] {
        serde_json::Value::Array(list) => list.iter().map(units).sum(),
        c @ serde_json::Value::Object(_) => units(c),
        _ => 0.0,
    }
}

/// CPU time of the calling thread.
pub fn thread_cpu_time() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of the whole process, every thread.
pub fn process_cpu_time() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn clock(id: libc::clockid_t) -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write to; the clock ids are the POSIX ones.
    let ok = unsafe { libc::clock_gettime(id, &mut t) };
    assert_eq!(ok, 0, "clock_gettime");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// One HTTP/1.1 message: its start line, headers and (de-chunked) body.
struct Message {
    start_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn ask_for_consumed_capacity(&mut self) {
        if let Ok(serde_json::Value::Object(mut object)) =
            serde_json::from_slice::<serde_json::Value>(&self.body)
        {
            if !object.contains_key("ReturnConsumedCapacity") {
                object.insert("ReturnConsumedCapacity".into(), "TOTAL".into());
                self.body = serde_json::to_vec(&object).expect("JSON");
            }
        }
    }

    /// The message with its body sent with a `Content-Length`.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 512);
        out.extend_from_slice(self.start_line.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding")
            {
                continue;
            }
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

fn read_line<R: BufRead>(reader: &mut R) -> io::Result<Option<String>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// Reads one message whole; `None` at a clean end of stream before it.
fn read_message<R: BufRead>(reader: &mut R) -> io::Result<Option<Message>> {
    let start_line = loop {
        match read_line(reader)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| io::Error::other("bad header"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut message = Message {
        start_line,
        headers,
        body: Vec::new(),
    };
    let chunked = message
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
    if chunked {
        loop {
            let size_line = read_line(reader)?.ok_or(io::ErrorKind::UnexpectedEof)?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::other("bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while read_line(reader)?.is_some_and(|l| !l.is_empty()) {}
                break;
            }
            let at = message.body.len();
            message.body.resize(at + size, 0);
            reader.read_exact(&mut message.body[at..])?;
            read_line(reader)?;
        }
    } else if let Some(length) = message.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| io::Error::other("bad content-length"))?;
        message.body.resize(length, 0);
        reader.read_exact(&mut message.body)?;
    }
    Ok(Some(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_requests_count_once_on_the_critical_path() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // Two concurrent reads, then a write after both, then two overlapping in a chain.
        let intervals = [
            (at(0), at(5)),
            (at(1), at(6)),
            (at(7), at(12)),
            (at(13), at(18)),
            (at(17), at(22)),
            (at(21), at(26)),
        ];
        assert_eq!(sequential_round_trips(&intervals), 3);
        assert_eq!(sequential_round_trips(&[]), 0);
    }

    /// An upstream that answers every request with a fixed JSON body, as DynamoDB Local would.
    fn fake_upstream(body: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut out = stream;
                    while let Ok(Some(request)) = read_message(&mut reader) {
                        assert!(
                            String::from_utf8_lossy(&request.body)
                                .contains("\"ReturnConsumedCapacity\":\"TOTAL\""),
                            "the proxy asks for the consumed capacity"
                        );
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        out.write_all(answer.as_bytes()).expect("write");
                    }
                });
            }
        });
        addr
    }

    fn call(stream: &mut TcpStream, reader: &mut BufReader<TcpStream>) -> Message {
        let body = r#"{"TableName":"t","Key":{}}"#;
        let request = format!(
            "POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: DynamoDB_20120810.GetItem\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("send");
        read_message(reader).expect("read").expect("an answer")
    }

    #[test]
    fn every_request_is_delayed_counted_and_its_capacity_read() {
        let upstream = fake_upstream(r#"{"Item":{},"ConsumedCapacity":{"CapacityUnits":0.5}}"#);
        let delay = Duration::from_millis(20);
        let proxy = Proxy::start(0, &upstream.to_string(), delay).expect("proxy");
        let mut stream = TcpStream::connect(proxy.addr).expect("connect");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let started = Instant::now();
        for _ in 0..3 {
            let answer = call(&mut stream, &mut reader);
            assert!(answer.start_line.contains("200"));
        }
        assert!(started.elapsed() >= delay * 3);
        let requests = proxy.take();
        assert_eq!(requests.len(), 3);
        assert!(requests.iter().all(|r| r.operation == "GetItem"));
        assert!(requests.iter().all(|r| r.end - r.start >= delay));
        let summary = summarise(&requests);
        assert_eq!(summary.round_trips, 3);
        assert_eq!(summary.sequential, 3);
        assert_eq!(summary.read_units, 1.5);
        assert_eq!(summary.write_units, 0.0);
        assert!(proxy.take().is_empty(), "take empties the record");
    }

    #[test]
    fn concurrent_requests_are_one_sequential_round_trip() {
        let upstream = fake_upstream(r#"{"Item":{}}"#);
        let proxy =
            Proxy::start(0, &upstream.to_string(), Duration::from_millis(30)).expect("proxy");
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let addr = proxy.addr;
                std::thread::spawn(move || {
                    let mut stream = TcpStream::connect(addr).expect("connect");
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    call(&mut stream, &mut reader);
                })
            })
            .collect();
        for t in threads {
            t.join().expect("a client");
        }
        let summary = summarise(&proxy.take());
        assert_eq!(summary.round_trips, 2);
        assert_eq!(summary.sequential, 1);
    }
}
