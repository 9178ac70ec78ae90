//! The local Hub as a program, for the benchmark: serves a Hub tree until killed.
//!
//! testhub --root DIR [--port 0] [--bandwidth-mbps N] [--latency-ms N] [--rtt-ms N]
//!         [--https h2|http1] [--redirect-from BYTES] [--gate REPO=TOKEN]...
//!
//! It prints the endpoint, then (with --https) the CA certificate's PEM file.

use std::time::Duration;

use testhub::{HubConfig, TestHub};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut config = HubConfig::new(".");
    let mut port = 0;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        config = match flag.as_str() {
            "--root" => HubConfig {
                root: value.clone().into(),
                ..config
            },
            "--port" => {
                port = value.parse().map_err(|e| format!("--port: {e}"))?;
                config
            }
            "--bandwidth-mbps" => config.bandwidth((number()? * 1e6) as u64),
            "--latency-ms" => config.latency(Duration::from_secs_f64(number()? / 1000.0)),
            "--rtt-ms" => config.round_trip(Duration::from_secs_f64(number()? / 1000.0)),
            "--https" => match value.as_str() {
                "h2" => config.https(true),
                "http1" => config.https(false),
                _ => return Err("--https h2|http1".to_owned()),
            },
            "--redirect-from" => config.redirect_files_from(number()? as u64),
            "--gate" => {
                let (repo, token) = value.split_once('=').ok_or("--gate REPO=TOKEN")?;
                config.gate(repo, &[token])
            }
            _ => return Err(format!("unknown flag {flag}")),
        };
    }
    let hub = TestHub::start_on(config, port).map_err(|e| e.to_string())?;
    println!("{}", hub.endpoint());
    if let Some(ca) = hub.ca_file() {
        println!("{}", ca.display());
    }
    loop {
        std::thread::park();
    }
}
