//! `[web]`: the web console, off unless the section is there. It listens on loopback unless
//! a TLS reverse proxy in front of it is named in `trusted_proxy`: passwords and session
//! cookies never cross a network in clear text.

use std::net::{IpAddr, SocketAddr};

use super::Problems;
use crate::config::raw::RawWeb;

/// Where the console listens when `[web]` gives no `listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8025";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConsole {
    pub listen: SocketAddr,
    /// The reverse proxies (terminating TLS) whose connections the console accepts when it
    /// listens beyond loopback; with any, session cookies are marked Secure.
    pub trusted_proxy: Vec<IpAddr>,
}

impl RawWeb {
    pub(in crate::config) fn validate(self, problems: &mut Problems) -> WebConsole {
        let default: SocketAddr = DEFAULT_LISTEN.parse().expect("default listen address");
        let listen = match self.listen.as_deref().map(str::parse::<SocketAddr>) {
            None => default,
            Some(Ok(address)) => address,
            Some(Err(_)) => {
                problems.add(
                    "web.listen",
                    format!(
                        "\"{}\" is not an address and port: write it like \"{DEFAULT_LISTEN}\"",
                        self.listen.unwrap_or_default()
                    ),
                );
                default
            }
        };
        let mut trusted_proxy = Vec::new();
        for (i, proxy) in self.trusted_proxy.iter().enumerate() {
            match proxy.parse::<IpAddr>() {
                Ok(ip) => trusted_proxy.push(ip),
                Err(_) => problems.add(
                    format!("web.trusted_proxy[{}]", i + 1),
                    format!("\"{proxy}\" is not an IP address: give the proxy's address, like \"127.0.0.1\""),
                ),
            }
        }
        if !listen.ip().is_loopback() && trusted_proxy.is_empty() {
            problems.add(
                "web.listen",
                format!(
                    "{listen} is reachable from the network, and the console has no TLS of its own: passwords and session cookies would travel in clear text. Listen on loopback (\"{DEFAULT_LISTEN}\") behind a TLS reverse proxy, or name that proxy in web.trusted_proxy"
                ),
            );
        }
        WebConsole {
            listen,
            trusted_proxy,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn load(text: &str) -> Result<Config, String> {
        Config::from_toml(text, Path::new("t.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn off_unless_the_section_is_there() {
        assert_eq!(load("").unwrap().web, None);
        let web = load("[web]\n").unwrap().web.unwrap();
        assert_eq!(web.listen.to_string(), "127.0.0.1:8025");
    }

    #[test]
    fn the_network_only_behind_a_trusted_proxy() {
        let error = load("[web]\nlisten = \"0.0.0.0:8025\"\n").unwrap_err();
        assert!(
            error.contains("web.listen") && error.contains("clear text"),
            "{error}"
        );
        let web = load("[web]\nlisten = \"0.0.0.0:8025\"\ntrusted_proxy = [\"10.0.0.5\"]\n")
            .unwrap()
            .web
            .unwrap();
        assert_eq!(
            web.trusted_proxy,
            ["10.0.0.5".parse::<std::net::IpAddr>().unwrap()]
        );
        let error =
            load("[web]\nlisten = \"localhost\"\ntrusted_proxy = [\"proxy\"]\n").unwrap_err();
        assert!(error.contains("not an address and port"), "{error}");
        assert!(error.contains("web.trusted_proxy[1]"), "{error}");
    }
}
