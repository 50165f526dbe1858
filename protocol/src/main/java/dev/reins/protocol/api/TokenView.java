package dev.reins.protocol.api;

import java.time.Instant;
import java.util.List;

/**
 * An API token as the admin endpoints show it. {@code token} (the secret) is present only in the
 * answer that created it; Reins keeps nothing but its hash.
 */
public record TokenView(
    String id,
    String name,
    String tenant,
    List<String> scopes,
    Instant createdAt,
    Instant expiresAt,
    Instant revokedAt,
    String token) {}
