//! `ddb-delay-proxy <port> <upstream host:port>`
//!
//! DynamoDB Local as a network hop away: every request held `DDB_DELAY_MS` (default 5) before
//! it is passed on (`devtools::delay_proxy`). Point a client at `http://127.0.0.1:<port>`; every
//! second with requests, one line on stderr: round trips, the critical path, capacity units.

use std::time::Duration;

use devtools::delay_proxy::{delay_from_env, summarise, Proxy};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, upstream] = args.as_slice() else {
        eprintln!("usage: ddb-delay-proxy <port> <upstream host:port>   (DDB_DELAY_MS, default 5)");
        std::process::exit(2);
    };
    let port: u16 = port.parse().expect("a port");
    let proxy = Proxy::start(port, upstream, delay_from_env()).expect("start the proxy");
    eprintln!(
        "ddb-delay-proxy on {} -> {upstream}, delay {:?}",
        proxy.url(),
        proxy.delay
    );
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let requests = proxy.take();
        if !requests.is_empty() {
            let s = summarise(&requests);
            eprintln!(
                "{} round trips, {} sequential, {:.1} read units, {:.1} write units",
                s.round_trips, s.sequential, s.read_units, s.write_units
            );
        }
    }
}
