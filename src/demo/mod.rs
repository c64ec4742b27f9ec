//! `tgate demo` (SPEC §14): the whole product in one command, with no
//! configuration and no router or Telegram account. It starts `tgate serve`
//! on a temporary SQLite file against both simulators (the same [`Lab`] the
//! end-to-end tests use) and walks through five stories, narrating each step
//! with its measured time. Every outcome is read back from the simulated
//! router, the simulated chats and the database, so a demo that prints the
//! stories is a demo in which they happened; one that does not, fails.

mod bans;
mod narrate;
mod scene;
mod stories;

use std::fmt;
use std::future::Future;

use anyhow::Context;
use tokio::time::Instant;

use crate::lab::{Lab, LabOptions};
use narrate::{Narrator, elapsed};
use scene::Scene;

/// The demo's confirm timeout: short, so the stories that wait for a
/// deadline stay quick, yet long enough to read a prompt.
const CONFIRM_TIMEOUT: &str = "3s";

/// Why the demo did not finish: the story that did not end as expected and
/// what was expected, or the lab that would not start.
#[derive(Debug)]
pub struct DemoFailed {
    pub story: Option<(usize, &'static str)>,
    pub error: anyhow::Error,
}

impl fmt::Display for DemoFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.story {
            Some((0, title)) => write!(f, "the prologue ({title}) failed: {:#}", self.error),
            Some((n, title)) => write!(f, "story {n} ({title}) failed: {:#}", self.error),
            None => write!(f, "{:#}", self.error),
        }
    }
}

impl std::error::Error for DemoFailed {}

impl From<anyhow::Error> for DemoFailed {
    fn from(error: anyhow::Error) -> Self {
        DemoFailed { story: None, error }
    }
}

/// Runs the demo to the end, or to the first story that goes wrong.
pub async fn run() -> Result<(), DemoFailed> {
    let started = Instant::now();
    let dir = tempfile::tempdir().context("making a temporary directory")?;
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let mut options = LabOptions::new(url.clone());
    options.policy = format!("confirm_timeout = \"{CONFIRM_TIMEOUT}\"");
    // Every simulated event comes from 127.0.0.1; the per-source limit
    // would otherwise refuse the router's own POSTs.
    options.server = "rate_limit = 0".to_owned();
    let say = Narrator;
    say.title("tgate demo: the whole product on this machine, with a simulated MikroTik router");
    say.title("and a simulated Telegram. Nothing leaves loopback.");
    let lab = Lab::start(options).await.context("starting the lab")?;
    say.step(
        started.elapsed(),
        &format!(
            "tgate serve is up on {} (database {url}); router \"{}\" over SSH on {}; Bot API on {}",
            lab.api,
            crate::lab::ROUTER,
            lab.router.addr(),
            lab.tg.url()
        ),
    );
    let scene = Scene::new(lab).await?;
    let played = play(&scene).await;
    let Scene { lab, .. } = scene;
    lab.stop().await.context("stopping tgate after the demo")?;
    played?;
    println!();
    println!(
        "All five stories ended as expected in {}.",
        elapsed(started.elapsed())
    );
    Ok(())
}

async fn play(sc: &Scene) -> Result<(), DemoFailed> {
    chapter(sc, 0, "enrollment", stories::prologue(sc)).await?;
    chapter(sc, 1, "a connect is confirmed", stories::confirmed(sc)).await?;
    chapter(
        sc,
        2,
        "a connect is refused with Not me",
        stories::refused(sc),
    )
    .await?;
    chapter(sc, 3, "a connect times out", stories::timed_out(sc)).await?;
    chapter(
        sc,
        4,
        "a caller is banned after repeated unconfirmed connects",
        bans::banned(sc),
    )
    .await?;
    chapter(sc, 5, "an admin lifts the ban", bans::lifted(sc)).await
}

async fn chapter(
    sc: &Scene,
    number: usize,
    title: &'static str,
    story: impl Future<Output = anyhow::Result<()>>,
) -> Result<(), DemoFailed> {
    if number == 0 {
        println!();
        println!("── Before the stories: {title} ──");
    } else {
        sc.say.story(number, title);
    }
    story.await.map_err(|error| DemoFailed {
        story: Some((number, title)),
        error,
    })
}

/// The confirm timeout as the configuration states it.
fn confirm_timeout(sc: &Scene) -> String {
    tgate_core::config::format_duration(sc.lab.config.policy.confirm_timeout)
}
