//! Group commit for rows many tasks write at once (the audit log, strikes,
//! new pending sessions, prompts' message ids, expiries at the deadline,
//! the worker's expiry jobs), and on PostgreSQL for connects' reads. Each
//! caller still waits until its own row is stored and hears its own row's
//! outcome, so nothing is lost that a caller was told is written; but the
//! rows that arrive while one write runs go to the database together, as
//! one multi-row statement or one transaction. Under a burst of connects
//! that turns a statement per row into a statement per burst, which is what
//! the single SQLite writer needs to keep up. A row that arrives alone is
//! written alone, as one statement, so light load pays only the hand-off to
//! the group's task; a lingering group (for rows nobody waits on) holds it
//! a little while for company instead.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// The most rows one write carries (SQLite allows 32,766 bound values; an
/// audit row binds eight).
pub const MAX_ROWS: usize = 256;

/// Writes of up to this many rows keep their prepared statement for the
/// next write of the same size; larger ones are prepared, run and dropped.
/// Each row count is its own SQL text: kept, every size a burst happens to
/// produce would stay compiled in the connection's statement cache (up to
/// a hundred per connection, 2–4 kB each, most never run again). The small
/// sizes light load writes over and over stay prepared.
pub const PREPARED_ROWS: usize = 8;

/// Whether a write of `rows` rows keeps its prepared statement.
pub fn keep_prepared(rows: usize) -> bool {
    rows <= PREPARED_ROWS
}

/// The group's writer is gone (its runtime shut down).
#[derive(Debug, thiserror::Error)]
#[error("the group writer has stopped")]
pub struct Stopped;

impl From<Stopped> for StoreError {
    fn from(_: Stopped) -> Self {
        StoreError::Corrupt("group writer".into(), Stopped.to_string())
    }
}

type Reply<O, E> = oneshot::Sender<Result<O, E>>;

/// Writes rows of type `T` through a background task; each caller gets its
/// row's `O` (what the write found for it, `()` for a plain append) or the
/// write's error `E`.
pub struct Group<T, O = (), E = StoreError> {
    queue: mpsc::UnboundedSender<(T, Reply<O, E>)>,
    tally: Arc<Tally>,
}

/// What a group's writes have done so far.
#[derive(Debug, Default)]
pub struct Tally {
    /// Rows stored by a write that carried more than one row.
    pub together: AtomicU64,
    /// Writes of several rows that failed, whose rows were then written
    /// one by one.
    pub failed_batches: AtomicU64,
}

impl<T, O, E> Group<T, O, E>
where
    T: Send + Sync + 'static,
    O: Send + 'static,
    E: From<Stopped> + std::fmt::Display + Send + 'static,
{
    /// Starts the task that writes with `write`, which is given one row or
    /// many and answers one `O` per row, in the rows' order. If a batch
    /// fails, each of its rows is written alone, so every caller gets its
    /// own row's outcome.
    pub fn start<W, F>(write: W) -> Group<T, O, E>
    where
        W: Fn(Arc<Vec<T>>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<Vec<O>, E>> + Send,
    {
        Self::start_lingering(Duration::ZERO, write)
    }

    /// As [`Group::start`], but each write waits `linger` once it has a row
    /// (after the write before it, if rows came during that one) for more
    /// to join it. For rows nobody is kept waiting on (what follows a
    /// message already sent): a steady trickle of them then costs about a
    /// write per `linger`, not one per row.
    pub fn start_lingering<W, F>(linger: Duration, write: W) -> Group<T, O, E>
    where
        W: Fn(Arc<Vec<T>>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<Vec<O>, E>> + Send,
    {
        let (queue, mut inbox) = mpsc::unbounded_channel::<(T, Reply<O, E>)>();
        let tally = Arc::new(Tally::default());
        let counts = tally.clone();
        tokio::spawn(async move {
            let mut waiting = Vec::with_capacity(MAX_ROWS);
            while inbox.recv_many(&mut waiting, MAX_ROWS).await > 0 {
                if !linger.is_zero() && waiting.len() < MAX_ROWS {
                    tokio::time::sleep(linger).await;
                    while waiting.len() < MAX_ROWS
                        && let Ok(row) = inbox.try_recv()
                    {
                        waiting.push(row);
                    }
                }
                let (rows, replies): (Vec<T>, Vec<Reply<O, E>>) = waiting.drain(..).unzip();
                let rows = Arc::new(rows);
                let together = match rows.len() {
                    1 => None,
                    n => match write(rows.clone()).await {
                        Ok(outcomes) => {
                            counts.together.fetch_add(n as u64, Ordering::Relaxed);
                            Some(outcomes)
                        }
                        Err(e) => {
                            counts.failed_batches.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(rows = n, error = %e, "a grouped write failed; writing its rows one by one");
                            None
                        }
                    },
                };
                match together {
                    Some(outcomes) => answer(replies, outcomes),
                    None => {
                        let rows = Arc::into_inner(rows).expect("no other holder");
                        for (row, reply) in rows.into_iter().zip(replies) {
                            match write(Arc::new(vec![row])).await {
                                Ok(outcome) => answer(vec![reply], outcome),
                                Err(e) => {
                                    let _ = reply.send(Err(e));
                                }
                            }
                        }
                    }
                }
            }
        });
        Group { queue, tally }
    }

    /// What the group's writes have done so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Stores `row`; returns once it is committed, with what the write
    /// found for it.
    pub async fn append(&self, row: T) -> Result<O, E> {
        let (reply, stored) = oneshot::channel();
        self.queue.send((row, reply)).map_err(|_| Stopped)?;
        stored.await.map_err(|_| Stopped)?
    }
}

/// Hands each caller its row's outcome. A write that answered fewer
/// outcomes than it was given rows breaks the contract of
/// [`Group::start`]; the callers left over hear that the writer failed
/// rather than wait forever.
fn answer<O, E: From<Stopped>>(replies: Vec<Reply<O, E>>, outcomes: Vec<O>) {
    debug_assert_eq!(replies.len(), outcomes.len(), "one outcome per row");
    let mut outcomes = outcomes.into_iter();
    for reply in replies {
        let _ = reply.send(outcomes.next().ok_or_else(|| Stopped.into()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A group over a fake table that refuses the row 13, alone or in a
    /// batch; returns the statements it ran, as the rows each stored.
    async fn append_all(rows: std::ops::Range<u32>) -> (Vec<(u32, bool)>, Vec<Vec<u32>>) {
        let writes: Arc<Mutex<Vec<Vec<u32>>>> = Arc::default();
        let group: Arc<Group<u32>> = Arc::new(Group::start({
            let writes = writes.clone();
            move |rows: Arc<Vec<u32>>| {
                let writes = writes.clone();
                async move {
                    tokio::task::yield_now().await;
                    if rows.contains(&13) {
                        return Err(StoreError::Corrupt("row".into(), "13".into()));
                    }
                    writes.lock().unwrap().push(rows.to_vec());
                    Ok(vec![(); rows.len()])
                }
            }
        }));
        let mut calls = tokio::task::JoinSet::new();
        for i in rows {
            let group = group.clone();
            calls.spawn(async move { (i, group.append(i).await.is_ok()) });
        }
        let results = calls.join_all().await;
        let writes = writes.lock().unwrap().clone();
        (results, writes)
    }

    #[tokio::test]
    async fn rows_arriving_together_share_a_statement() {
        let (results, writes) = append_all(20..60).await;
        assert!(results.iter().all(|(_, ok)| *ok), "{results:?}");
        let mut stored: Vec<u32> = writes.iter().flatten().copied().collect();
        stored.sort_unstable();
        assert_eq!(stored, (20..60).collect::<Vec<_>>());
        // The first row goes alone; the rest queued behind it.
        assert!(writes.len() < 40, "{writes:?}");
    }

    #[tokio::test]
    async fn a_failed_batch_is_retried_row_by_row_and_each_caller_hears_its_own() {
        let (results, writes) = append_all(10..20).await;
        for (i, ok) in results {
            assert_eq!(ok, i != 13, "row {i}");
        }
        let mut stored: Vec<u32> = writes.iter().flatten().copied().collect();
        stored.sort_unstable();
        assert_eq!(stored, [10, 11, 12, 14, 15, 16, 17, 18, 19]);
    }

    /// Rows a few milliseconds apart, each appended once the one before is
    /// on its way: without a linger each would be written alone.
    #[tokio::test(start_paused = true)]
    async fn a_lingering_group_writes_a_trickle_of_rows_together() {
        let writes: Arc<Mutex<Vec<Vec<u32>>>> = Arc::default();
        let group: Arc<Group<u32>> =
            Arc::new(Group::start_lingering(Duration::from_millis(300), {
                let writes = writes.clone();
                move |rows: Arc<Vec<u32>>| {
                    let writes = writes.clone();
                    async move {
                        writes.lock().unwrap().push(rows.to_vec());
                        Ok(vec![(); rows.len()])
                    }
                }
            }));
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..5 {
            let group = group.clone();
            calls.spawn(async move { group.append(i).await.is_ok() });
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert!(calls.join_all().await.into_iter().all(|ok| ok));
        assert_eq!(*writes.lock().unwrap(), [vec![0, 1, 2, 3, 4]]);
    }
}
