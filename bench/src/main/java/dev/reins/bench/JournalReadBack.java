package dev.reins.bench;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Events per second read back from the journal, through the API and with plain SQL over the same
 * table, in the same process and interleaved round by round (so that a busy machine weighs on both
 * alike; the ratio is the figure):
 *
 * <ul>
 *   <li>{@code sql_all}: {@code SELECT ordering, persistence_id, sequence_number, event_ser_id,
 *       event_ser_manifest, event_payload FROM event_journal WHERE deleted = FALSE AND
 *       (persistence_id LIKE 'Run|%' OR persistence_id LIKE 'Delegation|%') ORDER BY ordering}
 *       (the rows the feed shows: runs' and delegations' events, not sharding's own), fetched 1,000
 *       rows at a time over JDBC (every column read, the payload's bytes included; nothing
 *       deserialized);
 *   <li>{@code feed_operator}: {@code GET /v1/events?limit=N}, page after page from the start
 *       until a page is empty and its {@code next} is where it started (caught up), with an
 *       operator's token (the admin token: every tenant, so no filter);
 *   <li>{@code feed_tenant}: the same with an API token (its tenant's events: a filtered read);
 *   <li>{@code sql_run}: the {@code SELECT} of one run's rows ({@code WHERE persistence_id = ? ORDER
 *       BY sequence_number});
 *   <li>{@code replay}: {@code GET /v1/runs/{id}/events} of that run.
 * </ul>
 *
 * <p>Tokens come from the environment ({@code REINS_BENCH_TOKEN}: the API token; {@code
 * REINS_BENCH_ADMIN_TOKEN}: the operator's), never from options. Prints readable lines, then one
 * JSON line per figure starting with {@code {"benchmark":}.
 */
public final class JournalReadBack {
  private static final String API_TOKEN = System.getenv().getOrDefault("REINS_BENCH_TOKEN", "");
  private static final String ADMIN_TOKEN = System.getenv().getOrDefault("REINS_BENCH_ADMIN_TOKEN", "");

  private JournalReadBack() {}

  public static void main(String[] argv) throws Exception {
    BenchSupport.Args args = new BenchSupport.Args("JournalReadBack", argv, new String[][] {
        {"url", "http://127.0.0.1:28180", "the server's base URL"},
        {"db-url", "", "the journal's JDBC URL (jdbc:postgresql:... or jdbc:h2:...;AUTO_SERVER=TRUE)"},
        {"db-user", "", "the database user"},
        {"run-id", "", "a run with many events, for replay and sql_run (empty: skip both)"},
        {"limit", "1000", "the feed's page size"},
        {"rounds", "3", "rounds; each reads every figure once, in turn"},
        {"replay-reads", "20", "replay and sql_run: reads of the run per round"},
        {"figures", "sql_all,feed_operator,feed_tenant,sql_run,replay", "which figures, comma-separated"},
    });
    String base = args.str("url");
    String dbUrl = args.str("db-url");
    String runId = args.str("run-id");
    int limit = args.integer("limit");
    int rounds = args.integer("rounds");
    int replayReads = args.integer("replay-reads");
    List<String> figures = new ArrayList<>(List.of(args.str("figures").split(",")));
    if (runId.isEmpty()) {
      figures.removeAll(List.of("sql_run", "replay"));
    }
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    if (figures.stream().anyMatch(f -> !f.startsWith("sql"))) {
      BenchSupport.checkReady(http, base);
    }
    Map<String, List<double[]>> results = new LinkedHashMap<>(); // figure -> [events, seconds] per round
    try (Connection db = dbUrl.isEmpty() ? null : DriverManager.getConnection(dbUrl, args.str("db-user"), "")) {
      if (db != null) {
        db.setAutoCommit(false); // PostgreSQL honours the fetch size only inside a transaction
      }
      for (int round = 1; round <= rounds; round++) {
        for (String figure : figures) {
          long start = System.nanoTime();
          long events = switch (figure) {
            case "sql_all" -> sqlAll(db);
            case "feed_operator" -> feed(http, base, ADMIN_TOKEN, limit);
            case "feed_tenant" -> feed(http, base, API_TOKEN, limit);
            case "sql_run" -> repeat(replayReads, () -> sqlRun(db, runId));
            case "replay" -> repeat(replayReads, () -> replay(http, base, runId));
            default -> throw new IllegalArgumentException("unknown figure " + figure);
          };
          double seconds = (System.nanoTime() - start) / 1e9;
          results.computeIfAbsent(figure, f -> new ArrayList<>()).add(new double[] {events, seconds});
          System.out.printf(Locale.ROOT, "round %d %-14s %9d events in %7.3f s: %10.0f events/s%s%n",
              round, figure, events, seconds, events / seconds,
              figure.startsWith("feed") ? " (" + PAGES.get(figure.equals("feed_operator") ? ADMIN_TOKEN : API_TOKEN) + " pages)" : "");
        }
      }
    }
    String started = Instant.now().toString();
    for (Map.Entry<String, List<double[]>> e : results.entrySet()) {
      List<Double> rates = new ArrayList<>();
      for (double[] r : e.getValue()) {
        rates.add(r[0] / r[1]);
      }
      List<Double> sorted = new ArrayList<>(rates);
      Collections.sort(sorted);
      ObjectNode line = BenchSupport.JSON.createObjectNode();
      line.put("benchmark", "journal_read");
      line.put("figure", e.getKey());
      line.put("finished_at", started);
      line.put("events_per_read", (long) e.getValue().get(0)[0]);
      line.put("best_eps", Math.round(sorted.get(sorted.size() - 1)));
      line.put("median_eps", Math.round(sorted.get(sorted.size() / 2)));
      ArrayNode all = line.putArray("rounds_eps");
      rates.forEach(r -> all.add(Math.round(r)));
      if (e.getKey().startsWith("feed")) {
        line.put("limit", limit);
        line.put("pages_per_read", PAGES.getOrDefault(e.getKey().equals("feed_operator") ? ADMIN_TOKEN : API_TOKEN, 0L));
      }
      if (e.getKey().equals("replay") || e.getKey().equals("sql_run")) {
        line.put("reads_per_round", replayReads);
      }
      System.out.println(BenchSupport.JSON.writeValueAsString(line));
    }
  }

  private interface Read {
    long events() throws Exception;
  }

  private static long repeat(int times, Read read) throws Exception {
    long n = 0;
    for (int i = 0; i < times; i++) {
      n += read.events();
    }
    return n;
  }

  private static final String COLUMNS =
      "\"ordering\", \"persistence_id\", \"sequence_number\", \"event_ser_id\", \"event_ser_manifest\", \"event_payload\"";

  private static long sqlAll(Connection db) throws SQLException {
    try (PreparedStatement s = db.prepareStatement("SELECT " + COLUMNS
        + " FROM \"event_journal\" WHERE \"deleted\" = FALSE"
        + " AND (\"persistence_id\" LIKE 'Run|%' OR \"persistence_id\" LIKE 'Delegation|%') ORDER BY \"ordering\"")) {
      return drain(db, s);
    }
  }

  private static long sqlRun(Connection db, String runId) throws SQLException {
    try (PreparedStatement s = db.prepareStatement("SELECT " + COLUMNS
        + " FROM \"event_journal\" WHERE \"persistence_id\" = ? AND \"deleted\" = FALSE ORDER BY \"sequence_number\"")) {
      s.setString(1, "Run|" + runId);
      return drain(db, s);
    }
  }

  /** Reads every column of every row (the payload's bytes too), so that nothing is left unread. */
  private static long drain(Connection db, PreparedStatement s) throws SQLException {
    s.setFetchSize(1000);
    long rows = 0;
    long checksum = 0;
    try (ResultSet r = s.executeQuery()) {
      while (r.next()) {
        checksum += r.getLong(1) + r.getString(2).length() + r.getLong(3) + r.getInt(4) + r.getString(5).length()
            + r.getBytes(6).length;
        rows++;
      }
    }
    db.commit();
    if (checksum == 42) {
      System.out.print(""); // keeps the reads from being optimised away
    }
    return rows;
  }

  /** Pages through the feed from the start until caught up; the number of events read. */
  /** Pages the last feed read took (the empty page that says "caught up" included). */
  private static final Map<String, Long> PAGES = new LinkedHashMap<>();

  private static long feed(HttpClient http, String base, String token, int limit) throws IOException, InterruptedException {
    String after = null;
    long events = 0;
    long pages = 0;
    while (true) {
      pages++;
      String url = base + "/v1/events?limit=" + limit + (after == null ? "" : "&after=" + URLEncoder.encode(after, StandardCharsets.UTF_8));
      HttpResponse<InputStream> r = http.send(get(url, token), HttpResponse.BodyHandlers.ofInputStream());
      if (r.statusCode() != 200) {
        throw new IOException("GET " + url + " answered " + r.statusCode() + ": " + new String(r.body().readAllBytes(), StandardCharsets.UTF_8));
      }
      long n = 0;
      String next = null;
      try (InputStream in = r.body(); JsonParser p = BenchSupport.JSON.getFactory().createParser(in)) {
        p.nextToken(); // {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String field = p.currentName();
          JsonToken t = p.nextToken();
          if (field.equals("events") && t == JsonToken.START_ARRAY) {
            while (p.nextToken() == JsonToken.START_OBJECT) {
              p.skipChildren();
              n++;
            }
          } else if (field.equals("next")) {
            next = p.getText();
          } else {
            p.skipChildren();
          }
        }
      }
      events += n;
      if (next == null) {
        throw new IOException("GET " + url + ": no next in the answer");
      }
      if (n == 0 && next.equals(after)) {
        PAGES.put(token, pages);
        return events;
      }
      after = next;
    }
  }

  private static long replay(HttpClient http, String base, String runId) throws IOException, InterruptedException {
    String url = base + "/v1/runs/" + runId + "/events";
    HttpResponse<InputStream> r = http.send(get(url, API_TOKEN), HttpResponse.BodyHandlers.ofInputStream());
    if (r.statusCode() != 200) {
      throw new IOException("GET " + url + " answered " + r.statusCode());
    }
    long n = 0;
    try (InputStream in = r.body(); JsonParser p = BenchSupport.JSON.getFactory().createParser(in)) {
      if (p.nextToken() != JsonToken.START_ARRAY) {
        throw new IOException("GET " + url + ": not a JSON array");
      }
      while (p.nextToken() == JsonToken.START_OBJECT) {
        p.skipChildren();
        n++;
      }
    }
    return n;
  }

  private static HttpRequest get(String url, String token) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60)).GET();
    if (!token.isEmpty()) {
      b.header("Authorization", "Bearer " + token);
    }
    return b.build();
  }
}
