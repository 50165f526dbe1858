package dev.reins.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.reins.client.ReinsClient;
import dev.reins.client.RunQuery;
import dev.reins.protocol.api.RunPage;
import dev.reins.protocol.api.RunSummary;
import dev.reins.protocol.api.RunView;
import dev.reins.protocol.api.StoredEvent;
import dev.reins.protocol.api.SubmitRunRequest;
import dev.reins.protocol.run.ProcessSpec;
import dev.reins.protocol.run.RunStatus;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code reins runs}: submit, read, list, cancel, reset and follow runs over the HTTP API. Exit
 * codes: 0 done (for {@code watch} and {@code submit --wait}: the run succeeded), 1 a run that ended
 * otherwise, the server's refusal or no server, 2 a usage error.
 */
@Command(
    name = "runs",
    description = "Submit, inspect, list, cancel, reset and watch runs (over the HTTP API).",
    subcommands = {RunsCommand.Submit.class, RunsCommand.Get.class, RunsCommand.ListRuns.class, RunsCommand.Cancel.class,
        RunsCommand.Reset.class, RunsCommand.Events.class, RunsCommand.Logs.class, RunsCommand.Watch.class})
final class RunsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    return Main.missingSubcommand(spec);
  }

  @Command(name = "submit", description = {
      "Submit a run of COMMAND (argv, no shell): `reins runs submit -- make test`. Prints the run;",
      "with --wait follows it until it ends (exit code 0 only if it succeeded)."})
  static final class Submit implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ApiOptions api;
    @Mixin Output output;

    @Option(names = {"-l", "--label"}, paramLabel = "NAME=VALUE", description = "A label (repeatable).")
    Map<String, String> labels = new LinkedHashMap<>();

    @Option(names = {"-e", "--env"}, paramLabel = "NAME=VALUE", description = "An environment variable of the job (repeatable).")
    Map<String, String> env = new LinkedHashMap<>();

    @Option(names = {"-w", "--workdir"}, paramLabel = "DIR", description = "Absolute working directory (default: the run's own).")
    String workdir;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = TokensCommand.DurationConverter.class,
        description = "How long an attempt may run, e.g. 90m (default: the server's).")
    Duration timeout;

    @Option(names = "--cancel-grace", paramLabel = "DURATION", converter = TokensCommand.DurationConverter.class,
        description = "Between TERM and KILL on a cancel, e.g. 10s (default: the server's).")
    Duration cancelGrace;

    @Option(names = "--retries", paramLabel = "N", description = "Attempts after a failed one (default: the server's).")
    Integer retries;

    @Option(names = "--backoff", paramLabel = "DURATION", converter = TokensCommand.DurationConverter.class,
        description = "Wait before a retry, e.g. 30s (default: the server's).")
    Duration backoff;

    @Option(names = {"-k", "--idempotency-key"}, paramLabel = "KEY",
        description = "Submitting again with the same key and request answers the same run (and lets the client retry safely).")
    String idempotencyKey;

    @Option(names = "--wait", description = "Follow the run until it ends, printing its events; exit code 0 only if it succeeded.")
    boolean waitForEnd;

    @Option(names = {"-q", "--quiet"}, description = "Print only the run's id.")
    boolean quiet;

    @Parameters(paramLabel = "COMMAND", arity = "1..*", description = "The program and its arguments.")
    List<String> command;

    @Override
    public Integer call() {
      if (retries != null && retries < 0) {
        throw new ParameterException(spec.commandLine(), "--retries must be 0 or more");
      }
      SubmitRunRequest.Retry retry = retries == null && backoff == null ? null
          : new SubmitRunRequest.Retry(retries == null ? null : retries + 1, backoff == null ? null : backoff.toSeconds());
      SubmitRunRequest request = new SubmitRunRequest(
          new SubmitRunRequest.Executor("process", command, env.isEmpty() ? null : env, workdir),
          timeout == null ? null : timeout.toSeconds(),
          cancelGrace == null ? null : cancelGrace.toSeconds(),
          retry,
          labels.isEmpty() ? null : labels,
          idempotencyKey);
      ReinsClient client = api.client();
      ReinsClient.Submitted submitted = client.submit(request);
      RunView run = submitted.run();
      PrintWriter out = spec.commandLine().getOut();
      if (!waitForEnd) {
        if (quiet) {
          out.println(run.id());
        } else if (output.json) {
          output.json(spec, run);
        } else {
          Text.run(out, run);
        }
        out.flush();
        return 0;
      }
      if (quiet || output.json) {
        RunView end = client.watch(run.id(), 0, e -> { });
        if (quiet) {
          out.println(end.id());
          out.flush();
        } else {
          output.json(spec, end);
        }
        return Text.exitCode(end);
      }
      out.println((submitted.created() ? "submitted " : "found (same idempotency key) ") + run.id());
      out.flush();
      return Watch.follow(spec, client, run.id(), 0);
    }
  }

  @Command(name = "get", description = "Show a run: state, attempt, command, worker, exit, cancel.")
  static final class Get implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ApiOptions api;
    @Mixin Output output;

    @Parameters(paramLabel = "RUN_ID")
    String runId;

    @Override
    public Integer call() {
      RunView run = api.client().get(runId);
      if (output.json) {
        output.json(spec, run);
      } else {
        Text.run(spec.commandLine().getOut(), run);
      }
      return 0;
    }
  }

  @Command(name = "list", description = "List the runs of the token's tenant, oldest first (from the run list read model).")
  static final class ListRuns implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ApiOptions api;
    @Mixin Output output;

    @Option(names = "--state", paramLabel = "STATE", converter = StatusConverter.class,
        description = "Only runs in this state: pending, running, cancelling, cancelled, succeeded, failed, timed_out.")
    RunStatus state;

    @Option(names = {"-l", "--label"}, paramLabel = "NAME=VALUE", description = "Only runs with this label (repeatable: all must match).")
    Map<String, String> labels = new LinkedHashMap<>();

    @Option(names = "--parent", paramLabel = "RUN_ID", description = "Only the child runs of this run.")
    String parent;

    @Option(names = "--created-after", paramLabel = "INSTANT", converter = TokensCommand.InstantConverter.class,
        description = "Only runs created after this time, e.g. 2026-01-31T12:00:00Z.")
    Instant createdAfter;

    @Option(names = "--limit", paramLabel = "N", description = "Runs per page, 1 to 1000 (default: the server's 50).")
    Integer limit;

    @Option(names = "--cursor", paramLabel = "CURSOR", description = "Where the previous page ended (its next).")
    String cursor;

    @Option(names = "--all", description = "Follow the pages to the end.")
    boolean all;

    @Override
    public Integer call() {
      RunQuery query = RunQuery.all().withState(state).withParentRunId(parent).withCreatedAfter(createdAfter)
          .withLimit(limit).withCursor(cursor);
      for (Map.Entry<String, String> l : labels.entrySet()) {
        query = query.withLabel(l.getKey(), l.getValue());
      }
      ReinsClient client = api.client();
      List<RunSummary> runs = new ArrayList<>();
      RunPage page = client.list(query);
      runs.addAll(page.runs());
      while (all && page.next() != null) {
        page = client.list(query.withCursor(page.next()));
        runs.addAll(page.runs());
      }
      if (output.json) {
        output.json(spec, new RunPage(runs, page.next()));
        return 0;
      }
      Output.Table table = new Output.Table("ID", "STATE", "ATTEMPT", "CREATED", "UPDATED", "LABELS");
      for (RunSummary r : runs) {
        table.row(r.id(), r.state().json(), Integer.toString(r.attempt()), Output.time(r.createdAt()),
            Output.time(r.updatedAt()), Text.labels(r.labels()));
      }
      table.print(spec.commandLine().getOut());
      if (page.next() != null) {
        spec.commandLine().getErr().println("more runs: --cursor " + page.next() + " (or --all)");
        spec.commandLine().getErr().flush();
      }
      return 0;
    }
  }

  @Command(name = "cancel", description = "Cancel a run: TERM to its process tree, KILL after its grace.")
  static final class Cancel implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ApiOptions api;
    @Mixin Output output;

    @Parameters(paramLabel = "RUN_ID")
    String runId;

    @Option(names = "--reason", paramLabel = "TEXT", description = "Why (kept in the run's journal).")
    String reason;

    @Option(names = "--wait", paramLabel = "DURATION", converter = TokensCommand.DurationConverter.class,
        description = "Wait up to this long (at most 60s) for the run to end, e.g. 20s.")
    Duration wait;

    @Override
    public Integer call() {
      ReinsClient.Cancelled c = api.client().cancel(runId, reason, wait);
      if (output.json) {
        output.json(spec, c.run());
      } else {
        PrintWriter out = spec.commandLine().getOut();
        out.println(c.run().id() + " " + c.run().state().json() + " (" + c.outcome() + ")");
        out.flush();
      }
      return 0;
    }
  }

  @Command(name = "reset", description = "Start a new attempt of a terminal run.")
  static final class Reset implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ApiOptions api;
    @Mixin Output output;

    @Parameters(paramLabel = "RUN_ID")
    String runId;

    @Option(names = "--attempt", paramLabel = "N", description = "Only if the run's current attempt is N.")
    Integer attempt;

    @Override
    public Integer call() {
      RunView run = api.client().reset(runId, attempt);
      if (output.json) {
        output.json(spec, run);
      } else {
        PrintWriter out = spec.commandLine().getOut();
        out.println(run.id() + " " + run.state().json() + ", attempt " + run.attempt());
        out.flush();
      }
      return 0;
    }
  }

  @Command(name = "events", description = "Print a run's journal, in order.")
  static final class Events implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ApiOptions api;
    @Mixin Output output;

    @Parameters(paramLabel = "RUN_ID")
    String runId;

    @Override
    public Integer call() {
      List<StoredEvent> events = api.client().events(runId);
      if (output.json) {
        output.json(spec, events);
        return 0;
      }
      Output.Table table = new Output.Table("SEQ", "TIME", "EVENT", "DETAIL");
      for (StoredEvent e : events) {
        table.row(Long.toString(e.seq()), e.at().toString(), e.type(), Text.detail(e));
      }
      table.print(spec.commandLine().getOut());
      return 0;
    }
  }

  @Command(name = "logs", description = "Print the end of an attempt's output (stdout and stderr together).")
  static final class Logs implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ApiOptions api;

    @Parameters(paramLabel = "RUN_ID")
    String runId;

    @Option(names = "--attempt", paramLabel = "N", description = "Which attempt (default: the current one).")
    Integer attempt;

    @Option(names = "--tail", paramLabel = "BYTES", description = "How much of the end (default: the server's 65536).")
    Integer tail;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      out.print(api.client().logs(runId, attempt, tail));
      out.flush();
      return 0;
    }
  }

  @Command(name = "watch", description = {
      "Follow a run live (Server-Sent Events) until it ends, printing each event; resumes after a broken",
      "connection. Exit code 0 if the run succeeded, 1 if it ended otherwise. --json: one event per line."})
  static final class Watch implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ApiOptions api;
    @Mixin Output output;

    @Parameters(paramLabel = "RUN_ID")
    String runId;

    @Option(names = "--after", paramLabel = "SEQ", defaultValue = "0", description = "Start after this event (default: from the first).")
    long after;

    @Override
    public Integer call() {
      if (after < 0) {
        throw new ParameterException(spec.commandLine(), "--after must be 0 or more");
      }
      ReinsClient client = api.client();
      if (output.json) {
        PrintWriter out = spec.commandLine().getOut();
        RunView end = client.watch(runId, after, e -> {
          try {
            out.println(ReinsClient.json().writeValueAsString(e));
          } catch (JsonProcessingException ex) {
            throw new IllegalStateException(ex);
          }
          out.flush();
        });
        return Text.exitCode(end);
      }
      return follow(spec, client, runId, after);
    }

    /** Prints each event as it comes and the run's end; the exit code from how it ended. */
    static int follow(CommandSpec spec, ReinsClient client, String runId, long after) {
      PrintWriter out = spec.commandLine().getOut();
      RunView end = client.watch(runId, after, e -> {
        out.println(e.at() + "  " + e.seq() + "  " + e.type() + "  " + Text.detail(e));
        out.flush();
      });
      out.println(end.id() + " " + Text.ending(end));
      out.flush();
      return Text.exitCode(end);
    }
  }

  /** {@code running} or {@code timed_out} as in the API (picocli's enum conversion wants the constant's name). */
  static final class StatusConverter implements ITypeConverter<RunStatus> {
    @Override
    public RunStatus convert(String value) {
      try {
        return RunStatus.fromJson(value.trim());
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException("'" + value + "' is not a run state (pending, running, cancelling, cancelled, "
            + "succeeded, failed, timed_out)");
      }
    }
  }

  /** How runs and events read for people. */
  static final class Text {
    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9_./:=@%+,-]+");

    private Text() {}

    /** 0 if the run succeeded, 1 if it ended any other way (or has not ended). */
    static int exitCode(RunView run) {
      return run.state() == RunStatus.SUCCEEDED ? 0 : 1;
    }

    static void run(PrintWriter out, RunView r) {
      Map<String, String> rows = new LinkedHashMap<>();
      rows.put("id", r.id());
      rows.put("state", r.state().json());
      rows.put("attempt", Integer.toString(r.attempt()));
      if (r.executor() instanceof ProcessSpec p) {
        rows.put("command", command(p.command()));
        if (p.workdir() != null) {
          rows.put("workdir", p.workdir());
        }
        if (!p.env().isEmpty()) {
          rows.put("env", String.join(", ", p.env().keySet()));
        }
      }
      if (!r.labels().isEmpty()) {
        rows.put("labels", labels(r.labels()));
      }
      rows.put("tenant", r.tenant());
      rows.put("created", Output.time(r.createdAt()));
      rows.put("updated", Output.time(r.updatedAt()));
      if (r.worker() != null) {
        rows.put("worker", r.worker().node() + (r.worker().pid() > 0 ? " pid " + r.worker().pid() : ""));
      }
      if (r.exit() != null) {
        rows.put("exit", exit(r));
      }
      if (r.cancel() != null) {
        rows.put("cancel", (r.cancel().reason() == null ? "requested" : r.cancel().reason()) + " at "
            + Output.time(r.cancel().requestedAt()));
      }
      if (r.retryAt() != null) {
        rows.put("retry at", Output.time(r.retryAt()));
      }
      if (r.parentRunId() != null) {
        rows.put("parent", r.parentRunId());
      }
      if (r.idempotencyKey() != null) {
        rows.put("key", r.idempotencyKey());
      }
      rows.put("version", Long.toString(r.version()));
      rows.forEach((k, v) -> out.println(String.format("%-9s %s", k, v)));
      out.flush();
    }

    /** {@code succeeded (exit code 0)}, {@code cancelled (signal TERM)}. */
    static String ending(RunView r) {
      return r.state().json() + (r.exit() == null ? "" : " (" + exit(r) + ")");
    }

    private static String exit(RunView r) {
      List<String> parts = new ArrayList<>();
      if (r.exit().code() != null) {
        parts.add("exit code " + r.exit().code());
      }
      if (r.exit().signal() != null) {
        parts.add("signal " + r.exit().signal());
      }
      if (r.exit().reason() != null && !"exited".equals(r.exit().reason())) {
        parts.add(r.exit().reason());
      }
      if (r.exit().message() != null && !r.exit().message().isBlank()) {
        parts.add(r.exit().message());
      }
      return String.join(", ", parts);
    }

    static String labels(Map<String, String> labels) {
      return labels.entrySet().stream().sorted(Map.Entry.comparingByKey())
          .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
    }

    /** The argv as a shell would need it typed. */
    static String command(List<String> argv) {
      return argv.stream().map(a -> PLAIN.matcher(a).matches() ? a : "'" + a.replace("'", "'\\''") + "'")
          .collect(Collectors.joining(" "));
    }

    /** An event's data without what the columns already say, cut at 120 characters. */
    static String detail(StoredEvent e) {
      if (e.data() == null || !e.data().isObject()) {
        return e.data() == null ? "" : e.data().toString();
      }
      ObjectNode data = ((ObjectNode) e.data()).deepCopy();
      data.remove("type");
      data.remove("at");
      String text = data.toString();
      return text.length() > 120 ? text.substring(0, 117) + "..." : text;
    }
  }
}
