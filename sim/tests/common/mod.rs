//! A blocking ssh2 client, as tgate's router client uses, for driving the
//! simulator from async tests.

#![allow(dead_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use ssh2::Session;

pub enum Login {
    Password(&'static str, &'static str),
    Key(&'static str, PathBuf),
}

pub fn connect(addr: SocketAddr, login: &Login) -> anyhow::Result<Session> {
    let tcp = TcpStream::connect(addr)?;
    // Without this every exec after the first waits ~40 ms for a delayed
    // ACK (Nagle), against this simulator and a real router alike.
    tcp.set_nodelay(true)?;
    let mut sess = Session::new()?;
    sess.set_tcp_stream(tcp);
    sess.set_timeout(10_000);
    sess.handshake()?;
    match login {
        Login::Password(user, pass) => sess.userauth_password(user, pass)?,
        Login::Key(user, path) => sess.userauth_pubkey_file(user, None, path, None)?,
    }
    anyhow::ensure!(sess.authenticated(), "not authenticated");
    Ok(sess)
}

/// One exec request; returns stdout and the exit status.
pub fn exec_on(sess: &Session, command: &str) -> anyhow::Result<(String, i32)> {
    let mut channel = sess.channel_session()?;
    channel.exec(command)?;
    let mut out = String::new();
    channel.read_to_string(&mut out)?;
    channel.wait_close()?;
    Ok((out, channel.exit_status()?))
}

/// Connects as admin, runs one command, returns its output.
pub async fn exec(addr: SocketAddr, command: &str) -> String {
    exec_as(addr, Login::Password("admin", "admin"), command).await
}

pub async fn exec_as(addr: SocketAddr, login: Login, command: &str) -> String {
    let command = command.to_owned();
    tokio::task::spawn_blocking(move || {
        let sess = connect(addr, &login)?;
        exec_on(&sess, &command).map(|(out, _)| out)
    })
    .await
    .expect("ssh task")
    .expect("ssh exec")
}

pub fn short(d: u64) -> Duration {
    Duration::from_millis(d)
}
