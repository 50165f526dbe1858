package dev.reins.protocol.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/** One journal entry of a run, as {@code GET /v1/runs/{id}/events} shows it. */
public record StoredEvent(long seq, String type, Instant at, JsonNode data) {}
