//! A hostile inmate: each export tries to get out of the wasm wall or to exhaust the jail.

wit_bindgen::generate!({ world: "hostile", path: "wit" });

use std::hint::black_box;
use std::io::Write;
use wasip2::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
use wasip2::sockets::{instance_network, ip_name_lookup, tcp_create_socket, udp_create_socket};

struct Hostile;

impl Guest for Hostile {
    fn spin() -> u32 {
        let mut n = 0u32;
        loop {
            n = black_box(n.wrapping_add(1));
        }
    }

    fn burn(iterations: u64) -> u64 {
        let mut sum = 0u64;
        for i in 0..iterations {
            sum = black_box(sum.wrapping_add(i));
        }
        sum
    }

    fn grow_memory(mib: u32) -> u32 {
        let mut blocks = Vec::new();
        for _ in 0..mib {
            // Touch every page so the memory is really used, not just reserved.
            blocks.push(black_box(vec![1u8; 1 << 20]));
        }
        blocks.len() as u32
    }

    fn recurse(depth: u64) -> u64 {
        // Only wasm locals: the frames pile up on the wasm stack.
        if depth == 0 {
            return 0;
        }
        black_box(Self::recurse(black_box(depth - 1))) + 1
    }

    fn recurse_in_memory(depth: u64) -> u64 {
        // A local array lives on the inmate's own stack in linear memory (1 MiB for Rust),
        // which runs out long before the wasm stack does.
        if depth == 0 {
            return 0;
        }
        let frame = black_box([depth; 64]);
        black_box(Self::recurse_in_memory(black_box(depth - 1))) + frame[63] - depth + 1
    }

    fn flood_stdout(kib: u32) -> u32 {
        let chunk = [b'x'; 1024];
        let mut out = std::io::stdout();
        for _ in 0..kib {
            let _ = out.write_all(&chunk);
        }
        let _ = out.flush();
        kib
    }

    fn huge_result(mib: u32) -> String {
        "x".repeat((mib as usize) << 20)
    }

    fn flood_callbacks(n: u64) -> u64 {
        for _ in 0..n {
            tick();
        }
        n
    }

    fn read_file(path: String) -> Result<String, String> {
        std::fs::read_to_string(&path).map_err(|e| e.to_string())
    }

    fn list_dir(path: String) -> Result<Vec<String>, String> {
        let entries = std::fs::read_dir(&path).map_err(|e| e.to_string())?;
        Ok(entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    }

    fn write_file(path: String) -> Result<(), String> {
        let mut file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
        file.write_all(b"escaped").map_err(|e| e.to_string())
    }

    fn environment() -> Vec<(String, String)> {
        std::env::vars().collect()
    }

    fn arguments() -> Vec<String> {
        std::env::args().collect()
    }

    fn sockets() -> Vec<(String, String)> {
        let mut tried = Vec::new();
        let mut note = |attempt: &str, outcome: String| tried.push((attempt.to_string(), outcome));
        let network = instance_network::instance_network();

        match ip_name_lookup::resolve_addresses(&network, "localhost") {
            Ok(_) => note(
                "ip-name-lookup resolve localhost",
                "ok: lookup started".into(),
            ),
            Err(e) => note("ip-name-lookup resolve localhost", format!("denied: {e:?}")),
        }
        for (name, address) in [
            ("127.0.0.1:80", [127, 0, 0, 1]),
            ("1.1.1.1:53", [1, 1, 1, 1]),
        ] {
            let target = IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: if name.ends_with("80") { 80 } else { 53 },
                address: (address[0], address[1], address[2], address[3]),
            });
            match tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4) {
                Err(e) => note(
                    &format!("tcp create socket (for {name})"),
                    format!("denied: {e:?}"),
                ),
                Ok(socket) => match socket.start_connect(&network, target) {
                    Err(e) => note(&format!("tcp connect {name}"), format!("denied: {e:?}")),
                    Ok(()) => match socket.finish_connect() {
                        Err(e) => note(&format!("tcp connect {name}"), format!("denied: {e:?}")),
                        Ok(_) => note(&format!("tcp connect {name}"), "ok: connected".into()),
                    },
                },
            }
            match udp_create_socket::create_udp_socket(IpAddressFamily::Ipv4) {
                Err(e) => note(
                    &format!("udp create socket (for {name})"),
                    format!("denied: {e:?}"),
                ),
                Ok(socket) => match socket.start_bind(
                    &network,
                    IpSocketAddress::Ipv4(Ipv4SocketAddress {
                        port: 0,
                        address: (0, 0, 0, 0),
                    }),
                ) {
                    Err(e) => note(&format!("udp bind (for {name})"), format!("denied: {e:?}")),
                    Ok(()) => match socket.finish_bind() {
                        Err(e) => note(&format!("udp bind (for {name})"), format!("denied: {e:?}")),
                        Ok(()) => note(&format!("udp bind (for {name})"), "ok: bound".into()),
                    },
                },
            }
        }
        match tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv6) {
            Err(e) => note("tcp create socket ipv6", format!("denied: {e:?}")),
            Ok(_) => note("tcp create socket ipv6", "ok: created".into()),
        }
        match std::net::TcpStream::connect("127.0.0.1:80") {
            Err(e) => note(
                "std::net::TcpStream::connect 127.0.0.1:80",
                format!("denied: {e}"),
            ),
            Ok(_) => note(
                "std::net::TcpStream::connect 127.0.0.1:80",
                "ok: connected".into(),
            ),
        }
        match std::net::UdpSocket::bind("0.0.0.0:0") {
            Err(e) => note(
                "std::net::UdpSocket::bind 0.0.0.0:0",
                format!("denied: {e}"),
            ),
            Ok(_) => note("std::net::UdpSocket::bind 0.0.0.0:0", "ok: bound".into()),
        }
        tried
    }
}

export!(Hostile);
