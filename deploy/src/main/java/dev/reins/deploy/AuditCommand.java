package dev.reins.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.reins.persistence.Connections;
import dev.reins.persistence.JournalDatabase;
import dev.reins.persistence.audit.JournalAudit;
import dev.reins.persistence.audit.JournalAudit.Divergence;
import dev.reins.persistence.audit.JournalAudit.Replayed;
import dev.reins.persistence.runlist.RunList;
import dev.reins.protocol.api.RunSummary;
import dev.reins.protocol.api.RunView;
import dev.reins.protocol.json.ReinsJson;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code reins audit}: reads the journal itself, without a server (but also while one runs), and
 * folds it with the entities' own {@code apply}. {@code verify} compares every run with the run
 * list read model (and a live server); {@code replay} prints one run's history.
 */
@Command(
    name = "audit",
    description = "Replay the journal: verify what was built from it, or show a run's history.",
    subcommands = {AuditCommand.Verify.class, AuditCommand.Replay.class})
final class AuditCommand implements Callable<Integer> {
  private static final Duration QUERY_TIMEOUT = Duration.ofMinutes(5);

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    return Main.missingSubcommand(spec);
  }

  @Command(name = "verify", description = {
      "Replay every run and delegation from the journal and compare each run with the run list read model",
      "(and, with --server, with what that server answers). Prints each divergence; exit code 1 if any."})
  static final class Verify implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin JournalOptions journal;

    @Option(names = "--server", paramLabel = "URL", description = "Also compare with this server's GET /v1/runs/{id}, e.g. http://127.0.0.1:8080.")
    URI server;

    @Option(names = "--token", paramLabel = "TOKEN", description = "API token for --server (runs:read); runs of other tenants are skipped.")
    String token;

    @Option(names = "--settle", paramLabel = "DURATION", defaultValue = "10s", converter = TokensCommand.DurationConverter.class,
        description = "How long a run that differs from the read model is re-checked before it counts (the projection "
            + "may lag a live server; default: ${DEFAULT-VALUE}).")
    Duration settle;

    @Override
    public Integer call() throws Exception {
      if (server != null && token == null) {
        throw new ParameterException(spec.commandLine(), "--server needs --token");
      }
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      return withJournal(journal, spec, (audit, connections) -> {
        List<Divergence> divergences = new ArrayList<>();
        Progress progress = new Progress(err, "replaying");
        Map<String, Replayed> runs = audit.replayAll(divergences, progress::show);
        progress.done();
        Map<String, RunSummary> rows;
        try (Connection c = connections.open()) {
          rows = RunList.all(c);
        }
        List<Divergence> readModel = settle(audit, connections, runs, JournalAudit.compare(runs, rows));
        divergences.addAll(readModel);
        int skipped = 0;
        if (server != null) {
          ServerCheck check = new ServerCheck(server, token);
          Progress asking = new Progress(err, "asking the server");
          int i = 0;
          for (Replayed run : runs.values()) {
            Optional<Divergence> d = check.compare(audit, run);
            if (d == null) {
              skipped++;
            } else {
              d.ifPresent(divergences::add);
            }
            asking.show(++i, runs.size());
          }
          asking.done();
        }
        divergences.forEach(out::println);
        out.println("verified " + runs.size() + " run(s) against " + rows.size() + " read model row(s)"
            + (server == null ? "" : " and " + server + " (" + skipped + " run(s) of other tenants skipped)")
            + ": " + (divergences.isEmpty() ? "no divergence" : divergences.size() + " divergence(s)"));
        out.flush();
        return divergences.isEmpty() ? 0 : 1;
      });
    }

    /**
     * A live server's projection may not have applied the newest events yet: runs that differ are
     * read again (journal and row) until they agree or {@code settle} has passed.
     */
    private List<Divergence> settle(JournalAudit audit, Connections connections, Map<String, Replayed> runs,
        List<Divergence> found) throws Exception {
      Instant giveUp = Instant.now().plus(settle);
      List<Divergence> left = found;
      while (!left.isEmpty() && Instant.now().isBefore(giveUp)) {
        Thread.sleep(Math.min(500, Math.max(1, settle.toMillis())));
        List<Divergence> still = new ArrayList<>();
        for (String id : left.stream().map(Divergence::id).distinct().toList()) {
          List<Divergence> ignored = new ArrayList<>();
          Map<String, Replayed> again = new LinkedHashMap<>();
          audit.replayRun(id, audit.runEvents(id), ignored).ifPresent(r -> again.put(id, r));
          if (again.containsKey(id)) {
            runs.put(id, again.get(id));
          }
          Map<String, RunSummary> row = new LinkedHashMap<>();
          try (Connection c = connections.open()) {
            RunList.get(c, id).ifPresent(r -> row.put(id, r));
          }
          still.addAll(JournalAudit.compare(again, row));
        }
        left = still;
      }
      return left;
    }
  }

  /** {@code GET /v1/runs/{id}} of a live server against the journal. */
  private record ServerCheck(URI server, String token, HttpClient http) {
    ServerCheck(URI server, String token) {
      this(server, token, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build());
    }

    /** Null when the token's tenant cannot see the run; empty when the server agrees. */
    Optional<Divergence> compare(JournalAudit audit, Replayed run) throws Exception {
      JsonNode answer = get(run.runId());
      if (answer == null) {
        return null;
      }
      if (answer.path("version").asLong() != run.version()) {
        // the run moved on since it was replayed: replay it again, once
        List<Divergence> ignored = new ArrayList<>();
        Optional<Replayed> again = audit.replayRun(run.runId(), audit.runEvents(run.runId()), ignored);
        if (again.isPresent()) {
          run = again.get();
          answer = get(run.runId());
          if (answer == null) {
            return null;
          }
        }
      }
      RunView expected = RunView.of(run.state(), run.version());
      ObjectNode want = ReinsJson.mapper().valueToTree(expected);
      List<String> differences = new ArrayList<>();
      for (String field : List.of("state", "attempt", "version", "tenant", "createdAt", "updatedAt", "labels")) {
        JsonNode w = want.get(field);
        JsonNode got = answer.get(field);
        if (field.endsWith("At") && w != null && got != null) {
          if (!Instant.parse(w.asText()).equals(Instant.parse(got.asText()))) {
            differences.add(field + " is " + got.asText() + ", the journal says " + w.asText());
          }
        } else if (w != null && got != null && w.isValueNode() && got.isValueNode()
            ? !w.asText().equals(got.asText()) // 7 as an int or as a long is the same version
            : !java.util.Objects.equals(w, got)) {
          differences.add(field + " is " + got + ", the journal says " + w);
        }
      }
      return differences.isEmpty() ? Optional.empty()
          : Optional.of(new Divergence("server", run.runId(), String.join("; ", differences)));
    }

    private JsonNode get(String runId) throws Exception {
      HttpRequest request = HttpRequest.newBuilder(server.resolve("/v1/runs/" + runId))
          .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(30)).GET().build();
      HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() == 404) {
        return null;
      }
      if (r.statusCode() != 200) {
        throw new Main.Failure("the server answered GET /v1/runs/" + runId + " with " + r.statusCode() + ": " + r.body());
      }
      return ReinsJson.mapper().readTree(r.body());
    }
  }

  @Command(name = "replay", description = "Print a run's history from the journal: each event and the run's state after it.")
  static final class Replay implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin JournalOptions journal;
    @Mixin Output output;

    @Parameters(paramLabel = "RUN_ID", description = "The run.")
    String runId;

    @Override
    public Integer call() throws Exception {
      return withJournal(journal, spec, (audit, connections) -> {
        List<JournalAudit.Step> steps = audit.history(runId);
        if (steps.isEmpty()) {
          throw new Main.Failure("no run with id " + runId + " in the journal");
        }
        if (output.json) {
          List<Map<String, Object>> json = new ArrayList<>();
          for (JournalAudit.Step step : steps) {
            ObjectNode data = ReinsJson.mapper().valueToTree(step.event());
            String type = data.remove("type").asText();
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("seq", step.envelope().sequenceNr());
            row.put("type", type);
            row.put("at", step.event().at());
            row.put("data", data);
            row.put("state", RunView.of(step.after(), step.envelope().sequenceNr()));
            json.add(row);
          }
          output.json(spec, json);
          return 0;
        }
        Output.Table table = new Output.Table("TIME", "SEQ", "EVENT", "STATE", "ATTEMPT", "DETAIL");
        for (JournalAudit.Step step : steps) {
          ObjectNode data = ReinsJson.mapper().valueToTree(step.event());
          String type = data.remove("type").asText();
          data.remove("at");
          data.remove("attempt");
          String detail = data.toString();
          table.row(step.event().at().toString(), Long.toString(step.envelope().sequenceNr()), type,
              step.after().status().json(), Integer.toString(step.after().attempt()),
              detail.length() > 120 ? detail.substring(0, 117) + "..." : detail);
        }
        table.print(spec.commandLine().getOut());
        return 0;
      });
    }
  }

  /** What a command does with the journal (through Persistence Query) and the database (read model). */
  @FunctionalInterface
  interface JournalCall {
    Integer call(JournalAudit audit, Connections connections) throws Exception;
  }

  /**
   * A small actor system of this process alone (no cluster, no sharding: it cannot start an entity
   * or write anything) with the server's journal plugins, for Persistence Query.
   */
  static Integer withJournal(JournalOptions options, CommandSpec spec, JournalCall call) throws Exception {
    Config config = options.config();
    JournalDatabase db;
    try {
      db = JournalDatabase.fromConfig(config);
    } catch (ConfigException e) {
      throw new Main.Failure("the configuration is invalid: " + JournalDatabase.redacted(e.getMessage()));
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    Config toolConfig = ConfigFactory.parseMap(Map.of(
            "pekko.actor.provider", "local",
            "pekko.loglevel", "WARNING",
            "pekko.stdout-loglevel", "WARNING",
            "pekko.log-dead-letters", "off",
            "pekko.coordinated-shutdown.run-by-jvm-shutdown-hook", "off"))
        .withFallback(db.pekkoConfig())
        .withFallback(config)
        .resolve();
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "reins-audit", toolConfig);
    try {
      return call.call(new JournalAudit(system, QUERY_TIMEOUT), Connections.direct(db));
    } catch (SQLException e) {
      throw new Main.Failure("cannot read the journal database " + db + ": " + JournalDatabase.redacted(String.valueOf(e.getMessage())));
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new Main.Failure("cannot read the journal " + db + ": " + JournalDatabase.redacted(String.valueOf(cause.getMessage())));
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  /** A progress line on stderr for long work: redrawn in place on a terminal, every 10 % otherwise. */
  private static final class Progress {
    private final PrintWriter err;
    private final String what;
    private final boolean terminal = System.console() != null;
    private int lastTenth = -1;
    private boolean shown;

    Progress(PrintWriter err, String what) {
      this.err = err;
      this.what = what;
    }

    void show(int done, int total) {
      if (total < 100) {
        return;
      }
      int tenth = done * 10 / total;
      if (terminal) {
        int width = 30;
        int filled = done * width / total;
        err.print("\r" + what + " [" + "#".repeat(filled) + " ".repeat(width - filled) + "] " + done + "/" + total);
        err.flush();
        shown = true;
      } else if (tenth != lastTenth) {
        err.println(what + ": " + done + "/" + total);
        lastTenth = tenth;
      }
    }

    void done() {
      if (shown) {
        err.println();
      }
    }
  }
}
