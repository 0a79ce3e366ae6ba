//! Protected mode, as Redis 7.0's `clientAcceptHandler`: with `protected-mode yes` (the
//! default) and no password for the default user, only loopback clients are served; any
//! other gets Redis's explanation and is closed. Redis 7.0 does not look at `bind` (its
//! comment saying so is stale): a loopback-only bind simply never sees such clients.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Redis 7.0.15's text, byte for byte (including its "Setup a an").
pub const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Whether a client connecting from `peer` is refused. Like Redis's `islocalClient`, only
/// exactly 127.0.0.1 and ::1 are local (not the rest of 127/8, nor ::ffff:127.0.0.1).
pub fn denies(protected_mode: bool, requirepass_set: bool, peer: &SocketAddr) -> bool {
    protected_mode && !requirepass_set && !is_local(peer.ip())
}

fn is_local(ip: IpAddr) -> bool {
    ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip == IpAddr::V6(Ipv6Addr::LOCALHOST)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_loopback_clients_of_a_passwordless_server_are_served() {
        for local in ["127.0.0.1:5000", "[::1]:5000"] {
            assert!(!denies(true, false, &addr(local)), "{local}");
        }
        for remote in ["10.0.0.7:5000", "192.168.1.2:1", "127.0.0.2:5000", "[::ffff:127.0.0.1]:5000", "[fe80::1]:9"] {
            assert!(denies(true, false, &addr(remote)), "{remote}");
            assert!(!denies(false, false, &addr(remote)), "protected-mode no: {remote}");
            assert!(!denies(true, true, &addr(remote)), "requirepass set: {remote}");
        }
    }

    #[test]
    fn the_text_is_redis_s() {
        assert!(DENIED.starts_with(b"-DENIED Redis is running in protected mode because protected mode is enabled"));
        assert!(DENIED.ends_with(b"in order for the server to start accepting connections from the outside.\r\n"));
        assert!(!DENIED[..DENIED.len() - 2].contains(&b'\n'));
    }
}
