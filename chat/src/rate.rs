//! A per-user bound on commands: at most `per_minute` in any minute, kept in the warm execution
//! environment (the function's reserved concurrency keeps those few, so a flood from one user
//! meets the same counter).

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

/// Users tracked at most; past it, the one idle longest is forgotten.
const MAX_USERS: usize = 10_000;

/// Recent commands per user.
#[derive(Debug)]
pub struct Limiter {
    per_minute: usize,
    seen: HashMap<i64, VecDeque<DateTime<Utc>>>,
}

impl Limiter {
    /// At most `per_minute` commands per user per minute.
    pub fn new(per_minute: usize) -> Self {
        Limiter { per_minute, seen: HashMap::new() }
    }

    /// Whether `user` may run a command at `now` (counted when it may).
    pub fn allow(&mut self, user: i64, now: DateTime<Utc>) -> bool {
        if self.seen.len() >= MAX_USERS && !self.seen.contains_key(&user) {
            let idle = self.seen.iter().min_by_key(|(_, t)| t.back().copied()).map(|(u, _)| *u);
            if let Some(idle) = idle {
                self.seen.remove(&idle);
            }
        }
        let recent = self.seen.entry(user).or_default();
        while recent.front().is_some_and(|t| now - *t >= Duration::minutes(1)) {
            recent.pop_front();
        }
        if recent.len() >= self.per_minute {
            return false;
        }
        recent.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_gets_their_own_minute() {
        let t0: DateTime<Utc> = "2025-11-28T20:00:00Z".parse().unwrap();
        let at = |s: i64| t0 + Duration::seconds(s);
        let mut l = Limiter::new(3);
        // (user, second, allowed)
        let cases = [
            (1, 0, true),
            (1, 1, true),
            (1, 2, true),
            (1, 3, false),
            (2, 3, true),
            (1, 59, false),
            (1, 60, true),
            (1, 61, true),
            (1, 62, true),
            (1, 63, false),
        ];
        for (user, second, want) in cases {
            assert_eq!(l.allow(user, at(second)), want, "user {user} at {second}s");
        }
    }
}
