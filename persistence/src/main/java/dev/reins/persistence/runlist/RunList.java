package dev.reins.persistence.runlist;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import dev.reins.protocol.api.RunPage;
import dev.reins.protocol.api.RunSummary;
import dev.reins.protocol.api.SubmitRunRequest;
import dev.reins.protocol.json.ReinsJson;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunState;
import dev.reins.protocol.run.RunStatus;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The run list read model ({@code reins_runs}, {@code reins_run_labels}): how the projection
 * writes a run's row after each of its events, and how the list is read. Only {@link
 * RunListProjection} writes here; everything else reads.
 *
 * <p>Pages are ordered by {@code (created_at, run_id)}, which never change for a run, and a cursor
 * is the last key of its page: a run created while a client pages appears after the runs it has
 * seen (or not at all, if it was created before the cursor: never twice), and a run that changes
 * keeps its place.
 */
public final class RunList {
  private static final TypeReference<Map<String, String>> LABELS = new TypeReference<>() {};
  private static final String COLUMNS = "run_id, tenant, state, labels, parent_run_id, created_at, updated_at, attempt, seq";

  private RunList() {}

  /** How the projection stores a run's fold state (the same serializer as the entity's snapshots). */
  public interface StateCodec {
    byte[] write(RunState state);

    RunState read(byte[] bytes);
  }

  /** What happened to the row when an event was applied. */
  public enum Applied { WRITTEN, ALREADY_APPLIED, NO_ROW }

  /**
   * Applies event {@code seq} of run {@code runId} to its row with {@link RunState#apply}, in the
   * caller's transaction. A {@code RunSubmitted} (seq 1) starts the row afresh, so a rebuild from
   * offset zero rewrites every row. An event the row has already seen changes nothing.
   */
  public static Applied apply(Connection c, StateCodec codec, String runId, long seq, RunEvent event) throws SQLException {
    RunState state;
    if (event instanceof RunEvent.RunSubmitted submitted) {
      state = RunState.EMPTY.apply(submitted);
      delete(c, runId);
      try (PreparedStatement s = c.prepareStatement("INSERT INTO reins_runs (" + COLUMNS + ", fold_state) "
          + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
        s.setString(1, runId);
        s.setString(2, state.tenant());
        s.setString(3, state.status().json());
        s.setString(4, json(state.spec().labels()));
        s.setString(5, state.parentRunId());
        s.setLong(6, nanos(state.createdAt()));
        s.setLong(7, nanos(state.updatedAt()));
        s.setInt(8, state.attempt());
        s.setLong(9, seq);
        s.setBytes(10, codec.write(state));
        s.executeUpdate();
      }
      try (PreparedStatement s = c.prepareStatement(
          "INSERT INTO reins_run_labels (run_id, label_key, label_value) VALUES (?, ?, ?)")) {
        for (Map.Entry<String, String> label : state.spec().labels().entrySet()) {
          // longer labels predate the submit limits: listed with the run, but not filterable
          if (label.getKey().length() <= SubmitRunRequest.MAX_LABEL_NAME
              && label.getValue().length() <= SubmitRunRequest.MAX_LABEL_VALUE) {
            s.setString(1, runId);
            s.setString(2, label.getKey());
            s.setString(3, label.getValue());
            s.addBatch();
          }
        }
        s.executeBatch();
      }
      return Applied.WRITTEN;
    }
    long rowSeq;
    try (PreparedStatement s = c.prepareStatement("SELECT seq, fold_state FROM reins_runs WHERE run_id = ?")) {
      s.setString(1, runId);
      try (ResultSet r = s.executeQuery()) {
        if (!r.next()) {
          return Applied.NO_ROW;
        }
        rowSeq = r.getLong(1);
        state = codec.read(r.getBytes(2));
      }
    }
    if (seq <= rowSeq) {
      return Applied.ALREADY_APPLIED;
    }
    state = state.apply(event);
    try (PreparedStatement s = c.prepareStatement(
        "UPDATE reins_runs SET state = ?, updated_at = ?, attempt = ?, seq = ?, fold_state = ? WHERE run_id = ?")) {
      s.setString(1, state.status().json());
      s.setLong(2, nanos(state.updatedAt()));
      s.setInt(3, state.attempt());
      s.setLong(4, seq);
      s.setBytes(5, codec.write(state));
      s.setString(6, runId);
      s.executeUpdate();
    }
    return Applied.WRITTEN;
  }

  private static void delete(Connection c, String runId) throws SQLException {
    for (String table : List.of("reins_run_labels", "reins_runs")) {
      try (PreparedStatement s = c.prepareStatement("DELETE FROM " + table + " WHERE run_id = ?")) {
        s.setString(1, runId);
        s.executeUpdate();
      }
    }
  }

  /**
   * A list query, already validated. {@code labels} must all match; {@code after} is the cursor of
   * the previous page. Every filter is optional but the tenant.
   */
  public record Query(
      String tenant, RunStatus state, Map<String, String> labels, String parentRunId, Instant createdAfter, Cursor after,
      int limit) {
    public Query {
      labels = labels == null ? Map.of() : Map.copyOf(labels);
    }
  }

  /** The key of the last run of a page: {@code (createdAt, runId)}, opaque to clients. */
  public record Cursor(long createdAtNanos, String runId) {
    private static final String VERSION = "1";

    public String encode() {
      String raw = VERSION + ":" + createdAtNanos + ":" + runId;
      return Base64.getUrlEncoder().withoutPadding().encodeToString(raw.getBytes(StandardCharsets.UTF_8));
    }

    /** Empty when {@code cursor} is not one this class wrote. */
    public static Optional<Cursor> decode(String cursor) {
      try {
        String raw = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
        String[] parts = raw.split(":", 3);
        if (parts.length != 3 || !parts[0].equals(VERSION) || parts[2].isEmpty()) {
          return Optional.empty();
        }
        return Optional.of(new Cursor(Long.parseLong(parts[1]), parts[2]));
      } catch (IllegalArgumentException e) {
        return Optional.empty();
      }
    }
  }

  public static RunPage page(Connection c, Query q) throws SQLException {
    StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM reins_runs r WHERE tenant = ?");
    List<Object> args = new ArrayList<>();
    args.add(q.tenant());
    if (q.state() != null) {
      sql.append(" AND state = ?");
      args.add(q.state().json());
    }
    if (q.parentRunId() != null) {
      sql.append(" AND parent_run_id = ?");
      args.add(q.parentRunId());
    }
    if (q.createdAfter() != null) {
      sql.append(" AND created_at > ?");
      args.add(clampedNanos(q.createdAfter()));
    }
    if (q.after() != null) {
      sql.append(" AND (created_at > ? OR (created_at = ? AND run_id > ?))");
      args.add(q.after().createdAtNanos());
      args.add(q.after().createdAtNanos());
      args.add(q.after().runId());
    }
    for (Map.Entry<String, String> label : q.labels().entrySet()) {
      sql.append(" AND EXISTS (SELECT 1 FROM reins_run_labels l WHERE l.run_id = r.run_id AND l.label_key = ? AND l.label_value = ?)");
      args.add(label.getKey());
      args.add(label.getValue());
    }
    sql.append(" ORDER BY created_at, run_id LIMIT ?");
    args.add(q.limit() + 1);
    List<RunSummary> runs = new ArrayList<>();
    List<Long> created = new ArrayList<>();
    try (PreparedStatement s = c.prepareStatement(sql.toString())) {
      bind(s, args);
      try (ResultSet r = s.executeQuery()) {
        while (r.next()) {
          runs.add(summary(r));
          created.add(r.getLong("created_at"));
        }
      }
    }
    if (runs.size() <= q.limit()) {
      return new RunPage(runs, null);
    }
    List<RunSummary> page = runs.subList(0, q.limit());
    RunSummary last = page.get(page.size() - 1);
    return new RunPage(page, new Cursor(created.get(q.limit() - 1), last.id()).encode());
  }

  /** Every row, in list order (the audit compares them with the journal). */
  /** How many rows are in each state, over every tenant (the {@code reins_runs} gauge of /metrics). */
  public static Map<String, Long> countByState(Connection c) throws SQLException {
    Map<String, Long> out = new java.util.HashMap<>();
    try (PreparedStatement s = c.prepareStatement("SELECT state, COUNT(*) FROM reins_runs GROUP BY state");
         ResultSet r = s.executeQuery()) {
      while (r.next()) {
        out.put(r.getString(1), r.getLong(2));
      }
    }
    return out;
  }

  public static Map<String, RunSummary> all(Connection c) throws SQLException {
    Map<String, RunSummary> rows = new LinkedHashMap<>();
    try (PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + " FROM reins_runs ORDER BY created_at, run_id");
        ResultSet r = s.executeQuery()) {
      while (r.next()) {
        RunSummary row = summary(r);
        rows.put(row.id(), row);
      }
    }
    return rows;
  }

  public static Optional<RunSummary> get(Connection c, String runId) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + " FROM reins_runs WHERE run_id = ?")) {
      s.setString(1, runId);
      try (ResultSet r = s.executeQuery()) {
        return r.next() ? Optional.of(summary(r)) : Optional.empty();
      }
    }
  }

  private static RunSummary summary(ResultSet r) throws SQLException {
    return new RunSummary(
        r.getString("run_id"),
        r.getString("tenant"),
        RunStatus.fromJson(r.getString("state")),
        r.getInt("attempt"),
        labels(r.getString("labels")),
        r.getString("parent_run_id"),
        instant(r.getLong("created_at")),
        instant(r.getLong("updated_at")),
        r.getLong("seq"));
  }

  private static void bind(PreparedStatement s, List<Object> args) throws SQLException {
    for (int i = 0; i < args.size(); i++) {
      Object a = args.get(i);
      if (a instanceof Long l) {
        s.setLong(i + 1, l);
      } else if (a instanceof Integer n) {
        s.setInt(i + 1, n);
      } else {
        s.setString(i + 1, (String) a);
      }
    }
  }

  /** Epoch nanoseconds (the entities' clock may have them; a long holds them until 2262 and sorts everywhere). */
  public static long nanos(Instant t) {
    return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
  }

  /** For a filter: an instant out of the range of {@link #nanos} is before or after every run. */
  static long clampedNanos(Instant t) {
    try {
      return nanos(t);
    } catch (ArithmeticException e) {
      return t.isBefore(Instant.EPOCH) ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }

  public static Instant instant(long nanos) {
    return Instant.ofEpochSecond(Math.floorDiv(nanos, 1_000_000_000L), Math.floorMod(nanos, 1_000_000_000L));
  }

  private static String json(Map<String, String> labels) {
    try {
      return ReinsJson.mapper().writeValueAsString(labels);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("labels did not serialize", e);
    }
  }

  private static Map<String, String> labels(String json) {
    try {
      return ReinsJson.mapper().readValue(json, LABELS);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("the run list holds labels that are not JSON: " + e.getMessage(), e);
    }
  }
}
