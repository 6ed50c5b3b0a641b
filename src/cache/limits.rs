//! A request rate limit kept in Redis, so that it holds per client across every instance: the
//! generic cell rate algorithm (GCRA, what governor runs in process) in one script, one round
//! trip per request. The caller falls back to its in-process limiter when this fails.

use super::link::Unit;
use super::scripts;
use super::{keys, Cache, CacheError};

/// Whether a request may go on, or the whole seconds until its client may come back.
pub(crate) type Admission = Result<(), u64>;

impl Cache {
    /// Counts one request of `client` (a stable name: `v42` for a viewer, `a10.0.0.1` for an
    /// address) against `per_minute` requests a minute, in bursts of up to as many.
    pub(crate) async fn admit(
        &self,
        client: &str,
        per_minute: u32,
    ) -> Result<Admission, CacheError> {
        if self.cooling_down() {
            return Err(CacheError::Down);
        }
        let interval_micros = 60_000_000 / u64::from(per_minute.max(1));
        let key = keys::rate(client);
        let mut unit = Unit::new(key.as_str());
        unit.run(&scripts::ADMIT, [&key]).arg(interval_micros).arg(per_minute);
        let wait_micros: u64 = self.ask(unit).await?;
        Ok(match wait_micros {
            0 => Ok(()),
            wait => Err(wait.div_ceil(1_000_000)),
        })
    }
}
