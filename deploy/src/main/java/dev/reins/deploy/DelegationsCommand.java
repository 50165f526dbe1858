package dev.reins.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.client.ReinsClient;
import dev.reins.protocol.api.CreateDelegationRequest;
import dev.reins.protocol.api.DelegationView;
import dev.reins.protocol.api.SubmitRunRequest;
import dev.reins.protocol.delegation.DelegationResult;
import dev.reins.protocol.delegation.DelegationTarget;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code reins delegations}: a run's delegations to A2A agents or child runs, over the HTTP API. */
@Command(
    name = "delegations",
    description = "Create, inspect, list and cancel a run's delegations (over the HTTP API).",
    subcommands = {DelegationsCommand.Create.class, DelegationsCommand.Get.class, DelegationsCommand.ListDelegations.class,
        DelegationsCommand.Cancel.class})
final class DelegationsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    return Main.missingSubcommand(spec);
  }

  @Command(name = "create", description = {
      "Delegate work of a running run: to an A2A agent (--a2a URL --text ...) or to a child run",
      "(--child -- COMMAND...). Prints the delegation; --wait waits for its end."})
  static final class Create implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ApiOptions api;
    @Mixin Output output;

    @Parameters(index = "0", paramLabel = "RUN_ID", description = "The delegating run (pending or running).")
    String runId;

    @Parameters(index = "1..*", paramLabel = "COMMAND", description = "With --child: the child run's program and arguments.")
    List<String> command;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Target target;

    static final class Target {
      @Option(names = "--a2a", paramLabel = "URL", description = "An A2A agent (it must be in REINS_A2A_ALLOWED_URLS).")
      String agent;

      @Option(names = "--child", description = "A child run of COMMAND.")
      boolean child;
    }

    @Option(names = "--text", paramLabel = "TEXT", description = "For --a2a: the message's text part.")
    String text;

    @Option(names = "--data", paramLabel = "JSON", description = "For --a2a: the message's data part (a JSON object).")
    String data;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = TokensCommand.DurationConverter.class,
        description = "Until the delegation times out (default: the server's).")
    Duration timeout;

    @Option(names = "--on-parent-end", paramLabel = "cancel|abandon", description = "When the run ends first (default: cancel).")
    String onParentEnd;

    @Option(names = {"-k", "--idempotency-key"}, paramLabel = "KEY", description = "Creating again with the same key answers the same delegation.")
    String idempotencyKey;

    @Option(names = "--wait", paramLabel = "DURATION", converter = TokensCommand.DurationConverter.class,
        description = "Then wait up to this long (at most 60s) for it to end.")
    Duration wait;

    @Override
    public Integer call() {
      CreateDelegationRequest.Target t;
      if (target.child) {
        if (command == null || command.isEmpty()) {
          throw new ParameterException(spec.commandLine(), "--child needs the child's COMMAND (after --)");
        }
        if (text != null || data != null) {
          throw new ParameterException(spec.commandLine(), "--text and --data are for --a2a");
        }
        t = new CreateDelegationRequest.Target("run", null, null,
            new SubmitRunRequest.Executor("process", command, null, null), null);
      } else {
        if (command != null && !command.isEmpty()) {
          throw new ParameterException(spec.commandLine(), "a COMMAND is for --child; --a2a sends --text/--data");
        }
        JsonNode json = null;
        if (data != null) {
          try {
            json = ReinsClient.json().readTree(data);
          } catch (JsonProcessingException e) {
            throw new ParameterException(spec.commandLine(), "--data is not JSON: " + e.getOriginalMessage());
          }
        }
        t = new CreateDelegationRequest.Target("a2a", target.agent, new CreateDelegationRequest.Message(text, json), null, null);
      }
      ReinsClient client = api.client();
      DelegationView d = client.delegate(runId, new CreateDelegationRequest(t,
          timeout == null ? null : timeout.toSeconds(), idempotencyKey, onParentEnd));
      if (wait != null && !wait.isZero()) {
        d = client.delegation(runId, d.id(), wait);
      }
      print(spec, output, d);
      return 0;
    }
  }

  @Command(name = "get", description = "Show a delegation; --wait long-polls until it ends.")
  static final class Get implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ApiOptions api;
    @Mixin Output output;

    @Parameters(index = "0", paramLabel = "RUN_ID")
    String runId;

    @Parameters(index = "1", paramLabel = "DELEGATION_ID")
    String delegationId;

    @Option(names = "--wait", paramLabel = "DURATION", converter = TokensCommand.DurationConverter.class,
        description = "Wait up to this long (at most 60s) for it to end, e.g. 30s.")
    Duration wait;

    @Override
    public Integer call() {
      print(spec, output, api.client().delegation(runId, delegationId, wait));
      return 0;
    }
  }

  @Command(name = "list", description = "List a run's delegations.")
  static final class ListDelegations implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ApiOptions api;
    @Mixin Output output;

    @Parameters(paramLabel = "RUN_ID")
    String runId;

    @Override
    public Integer call() {
      List<DelegationView> all = api.client().delegations(runId);
      if (output.json) {
        output.json(spec, all);
        return 0;
      }
      Output.Table table = new Output.Table("ID", "STATE", "CREATED", "DEADLINE", "TARGET");
      for (DelegationView d : all) {
        table.row(d.id(), d.state().json(), Output.time(d.createdAt()), Output.time(d.deadline()), target(d.target()));
      }
      table.print(spec.commandLine().getOut());
      return 0;
    }
  }

  @Command(name = "cancel", description = "Cancel a delegation (the agent's task, or the child run).")
  static final class Cancel implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ApiOptions api;
    @Mixin Output output;

    @Parameters(index = "0", paramLabel = "RUN_ID")
    String runId;

    @Parameters(index = "1", paramLabel = "DELEGATION_ID")
    String delegationId;

    @Override
    public Integer call() {
      DelegationView d = api.client().cancelDelegation(runId, delegationId);
      if (output.json) {
        output.json(spec, d);
      } else {
        PrintWriter out = spec.commandLine().getOut();
        out.println(d.id() + " " + d.state().json());
        out.flush();
      }
      return 0;
    }
  }

  private static void print(CommandSpec spec, Output output, DelegationView d) {
    if (output.json) {
      output.json(spec, d);
      return;
    }
    Map<String, String> rows = new LinkedHashMap<>();
    rows.put("id", d.id());
    rows.put("run", d.runId());
    rows.put("state", d.state().json());
    rows.put("target", target(d.target()));
    rows.put("created", Output.time(d.createdAt()));
    rows.put("deadline", Output.time(d.deadline()));
    if (d.remote() != null) {
      rows.put("remote", d.remote().id() + (d.remote().state() == null ? "" : " (" + d.remote().state() + ")"));
    }
    if (d.reason() != null) {
      rows.put("reason", d.reason());
    }
    if (d.detail() != null) {
      rows.put("detail", d.detail());
    }
    if (d.result() != null) {
      rows.put("result", result(d.result()));
    }
    PrintWriter out = spec.commandLine().getOut();
    rows.forEach((k, v) -> out.println(String.format("%-9s %s", k, v)));
    out.flush();
  }

  static String target(DelegationTarget t) {
    if (t instanceof DelegationTarget.A2a a) {
      return "a2a " + a.url();
    }
    if (t instanceof DelegationTarget.Run r) {
      return "run " + RunsCommand.Text.command(r.executor().command());
    }
    return String.valueOf(t);
  }

  private static String result(DelegationResult r) {
    if (r.child() != null) {
      return "child run " + r.child().runId() + " " + r.child().state()
          + (r.child().exitCode() != null ? " (exit code " + r.child().exitCode() + ")" : "")
          + (r.child().signal() != null ? " (signal " + r.child().signal() + ")" : "");
    }
    StringBuilder text = new StringBuilder();
    for (DelegationResult.Part p : r.parts()) {
      if (text.length() > 0) {
        text.append(" | ");
      }
      text.append(p.text() != null ? p.text() : String.valueOf(p.data()));
    }
    return text + (r.truncated() ? " (truncated)" : "");
  }
}
