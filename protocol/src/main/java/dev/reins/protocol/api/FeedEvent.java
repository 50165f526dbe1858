package dev.reins.protocol.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/**
 * One event of the global feed ({@code GET /v1/events}): an event of run {@code runId}, or, when
 * {@code delegationId} is set, of that delegation of run {@code runId}. {@code seq} is the event's
 * sequence number in its own journal (the run's or the delegation's); {@code offset} is the feed
 * position just after it (opaque; resume a read with {@code after=<offset>}).
 */
public record FeedEvent(String offset, String runId, String delegationId, long seq, String type, Instant at, JsonNode data) {}
