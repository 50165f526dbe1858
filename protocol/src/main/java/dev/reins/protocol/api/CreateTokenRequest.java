package dev.reins.protocol.api;

import java.time.Instant;
import java.util.List;

/**
 * The body of {@code POST /v1/admin/tokens}: {@code name} and {@code scopes} are required;
 * {@code tenant} defaults to the admin's own; no {@code expiresAt} means no expiry.
 */
public record CreateTokenRequest(String name, String tenant, List<String> scopes, Instant expiresAt) {}
