//! The provider's clock: the times every token, session and import stamp is taken from
//! (Keycloak's `Time#currentTime` in seconds, `Time#currentTimeMillis` in milliseconds).

/// Seconds since the Unix epoch (`iat`, `exp`, session expiry, `client.secret.creation.time`).
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Milliseconds since the Unix epoch (`createdTimestamp` of users).
pub fn now_millis() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
