package dev.reins.client;

import dev.reins.protocol.run.RunStatus;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The filters of {@code GET /v1/runs}; every one optional. Built by {@code with…} methods:
 * {@code RunQuery.all().withState(RunStatus.RUNNING).withLabel("team", "x").withLimit(100)}.
 */
public record RunQuery(
    RunStatus state, Map<String, String> labels, String parentRunId, Instant createdAfter, Integer limit, String cursor) {

  public RunQuery {
    labels = labels == null ? Map.of() : Map.copyOf(labels);
  }

  public static RunQuery all() {
    return new RunQuery(null, Map.of(), null, null, null, null);
  }

  public RunQuery withState(RunStatus s) {
    return new RunQuery(s, labels, parentRunId, createdAfter, limit, cursor);
  }

  /** Every label given must match (name and value). */
  public RunQuery withLabel(String name, String value) {
    Map<String, String> more = new LinkedHashMap<>(labels);
    more.put(name, value);
    return new RunQuery(state, more, parentRunId, createdAfter, limit, cursor);
  }

  public RunQuery withParentRunId(String id) {
    return new RunQuery(state, labels, id, createdAfter, limit, cursor);
  }

  public RunQuery withCreatedAfter(Instant t) {
    return new RunQuery(state, labels, parentRunId, t, limit, cursor);
  }

  /** 1 to 1000 (the server's default: 50). */
  public RunQuery withLimit(Integer n) {
    return new RunQuery(state, labels, parentRunId, createdAfter, n, cursor);
  }

  /** The {@code next} of the previous page. */
  public RunQuery withCursor(String c) {
    return new RunQuery(state, labels, parentRunId, createdAfter, limit, c);
  }
}
