package dev.reins.protocol.run;

import java.time.Instant;

/** Why and when a cancellation was requested. */
public record CancelInfo(String reason, Instant requestedAt) {}
