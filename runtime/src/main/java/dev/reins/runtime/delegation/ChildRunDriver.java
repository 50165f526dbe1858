package dev.reins.runtime.delegation;

import dev.reins.protocol.delegation.DelegationResult;
import dev.reins.protocol.delegation.DelegationState;
import dev.reins.protocol.delegation.DelegationTarget;
import dev.reins.protocol.run.ExitInfo;
import dev.reins.protocol.run.RetryPolicy;
import dev.reins.protocol.run.RunSpec;
import dev.reins.protocol.run.RunState;
import dev.reins.protocol.run.RunStatus;
import dev.reins.runtime.run.RunAccess;
import dev.reins.runtime.run.RunEntity;
import dev.reins.runtime.run.Runs;
import dev.reins.runtime.tenant.TenantQuota;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * A delegation to a child run in this cluster. The child's id is derived from the delegation's,
 * so a restart between submitting and journaling it finds the same child instead of making a
 * second. The child is submitted like any run (its tenant's limits apply), with {@code
 * parentRunId} set; the driver then waits for its end, and a cancel cancels it like any run.
 */
public final class ChildRunDriver implements DelegationDriver {
  private final ChildRuns runs;
  private final TenantQuota.Client quota;
  private final Duration cancelGrace;
  /** How long one wait for the child's end lasts before the driver looks again. */
  private final Duration watch;

  /** What the driver asks of runs: {@link Runs} (through sharding, as Reins itself), or a script in tests. */
  public interface ChildRuns {
    CompletionStage<RunEntity.Reply> submitChild(String runId, String tenant, RunSpec spec, String parentRunId, String delegationId);

    CompletionStage<RunEntity.Reply> get(String runId);

    CompletionStage<RunEntity.Reply> cancel(String runId, String reason);

    /** Completes when the run is terminal, or fails with a timeout after {@code wait}. */
    CompletionStage<RunEntity.Reply> awaitTerminal(String runId, Duration wait);

    static ChildRuns of(Runs runs) {
      return new ChildRuns() {
        @Override
        public CompletionStage<RunEntity.Reply> submitChild(
            String runId, String tenant, RunSpec spec, String parentRunId, String delegationId) {
          return runs.submitChild(runId, tenant, spec, parentRunId, delegationId);
        }

        @Override
        public CompletionStage<RunEntity.Reply> get(String runId) {
          return runs.get(runId, RunAccess.INTERNAL);
        }

        @Override
        public CompletionStage<RunEntity.Reply> cancel(String runId, String reason) {
          return runs.cancel(runId, RunAccess.INTERNAL, reason, null);
        }

        @Override
        public CompletionStage<RunEntity.Reply> awaitTerminal(String runId, Duration wait) {
          return runs.awaitTerminal(runId, RunAccess.INTERNAL, wait);
        }
      };
    }
  }

  public ChildRunDriver(Runs runs, TenantQuota.Client quota, Duration cancelGrace, Duration watch) {
    this(ChildRuns.of(runs), quota, cancelGrace, watch);
  }

  public ChildRunDriver(ChildRuns runs, TenantQuota.Client quota, Duration cancelGrace, Duration watch) {
    this.runs = runs;
    this.quota = quota;
    this.cancelGrace = cancelGrace;
    this.watch = watch;
  }

  /** The id of the child run of a delegation. */
  public static String childRunId(String delegationId) {
    return UUID.nameUUIDFromBytes(("reins-child-run:" + delegationId).getBytes(StandardCharsets.UTF_8)).toString();
  }

  private sealed interface Step extends Command {}

  private record Submitted(RunEntity.Reply reply, Throwable error) implements Step {}

  private record Admitted(TenantQuota.Admission admission, Throwable error) implements Step {}

  private record Looked(RunEntity.Reply reply, Throwable error) implements Step {}

  private record CancelAnswered(RunEntity.Reply reply, Throwable error) implements Step {}

  private record LookAgain() implements Step {}

  /** Where the driver is: asking the quota, submitting the child, or watching a child that exists. */
  private enum Phase { ADMITTING, SUBMITTING, WATCHING }

  @Override
  public Behavior<Command> create(DelegationState state, ActorRef<Report> reportTo) {
    return Behaviors.setup(ctx -> {
      String childId = state.remoteId() != null ? state.remoteId() : childRunId(state.delegationId());
      DelegationTarget.Run target = (DelegationTarget.Run) state.spec().target();
      Phase[] phase = {state.remoteId() == null ? Phase.ADMITTING : Phase.WATCHING};
      boolean[] cancelling = {false};
      if (phase[0] == Phase.ADMITTING) {
        ctx.pipeToSelf(quota.admit(state.tenant(), childId), Admitted::new);
      } else {
        look(ctx, childId);
      }
      return Behaviors.receive(Command.class)
          .onMessage(Admitted.class, a -> {
            if (cancelling[0]) {
              // cancelled before the child was submitted: it is not submitted now. A child of an
              // earlier incarnation of this delegation (submitted, then a crash before its id was
              // journaled) would still exist: the cancel goes to the child's id either way.
              if (a.error() == null && a.admission().admitted()) {
                quota.release(state.tenant(), childId);
              }
              cancel(ctx, childId);
            } else if (a.error() != null) {
              reportTo.tell(new Failed("unavailable", "the tenant's quota did not answer: " + a.error().getMessage()));
            } else if (!a.admission().admitted()) {
              reportTo.tell(new Failed("tenant_limit", "the child run was refused: " + a.admission().detail()));
            } else {
              RunSpec spec = new RunSpec(target.executor(), target.timeoutSeconds(), cancelGrace.toSeconds(), RetryPolicy.NONE,
                  Map.of(), null);
              phase[0] = Phase.SUBMITTING;
              ctx.pipeToSelf(runs.submitChild(childId, state.tenant(), spec, state.runId(), state.delegationId()), Submitted::new);
            }
            return Behaviors.same();
          })
          .onMessage(Submitted.class, sub -> {
            if (sub.error() != null) {
              if (cancelling[0]) {
                cancel(ctx, childId); // the submit may still have reached the child: cancel it by id
              } else {
                reportTo.tell(new Failed("submit_failed", "the child run could not be submitted: " + sub.error().getMessage()));
              }
              return Behaviors.same();
            }
            RunEntity.Outcome o = sub.reply().outcome();
            if (o != RunEntity.Outcome.CREATED && o != RunEntity.Outcome.EXISTS) {
              reportTo.tell(new Failed("submit_failed", "the child run was refused: " + o + " " + sub.reply().detail()));
              return Behaviors.same();
            }
            phase[0] = Phase.WATCHING;
            reportTo.tell(new Started(childId, sub.reply().state().status().json()));
            if (cancelling[0]) {
              cancel(ctx, childId); // the cancel came while the child was being submitted
            } else {
              look(ctx, childId);
            }
            return Behaviors.same();
          })
          .onMessage(Looked.class, l -> {
            if (l.error() != null || l.reply().outcome() == RunEntity.Outcome.NOT_FOUND) {
              // transient (an ask timeout, the journal briefly down): look again; the deadline bounds it
              ctx.scheduleOnce(Duration.ofSeconds(1), ctx.getSelf(), new LookAgain());
              return Behaviors.same();
            }
            RunState child = l.reply().state();
            if (!child.status().isTerminal()) {
              reportTo.tell(new StateChanged(child.status().json()));
              await(ctx, childId);
              return Behaviors.same();
            }
            reportTo.tell(new StateChanged(child.status().json()));
            reportTo.tell(cancelling[0]
                ? new CancelOutcome(true, "child run " + childId + " ended " + child.status().json())
                : ended(child));
            return Behaviors.same();
          })
          .onMessage(LookAgain.class, l -> {
            look(ctx, childId);
            return Behaviors.same();
          })
          .onMessage(CancelRemote.class, c -> {
            if (cancelling[0]) {
              return Behaviors.same();
            }
            cancelling[0] = true;
            if (phase[0] == Phase.WATCHING) {
              cancel(ctx, childId);
            }
            // otherwise the quota's or the submit's answer, when it comes, sends the cancel
            return Behaviors.same();
          })
          .onMessage(CancelAnswered.class, c -> {
            if (c.error() != null) {
              reportTo.tell(new CancelOutcome(false, "the child run did not answer the cancel: " + c.error().getMessage()));
              return Behaviors.same();
            }
            RunEntity.Reply reply = c.reply();
            if (reply.outcome() == RunEntity.Outcome.NOT_FOUND || !reply.state().exists()) {
              reportTo.tell(new CancelOutcome(true, "cancelled before its child run " + childId + " was submitted; no child run exists"));
              return Behaviors.same();
            }
            if (phase[0] != Phase.WATCHING) {
              // a child of an earlier incarnation: its id is journaled before anything else
              phase[0] = Phase.WATCHING;
              reportTo.tell(new Started(childId, reply.state().status().json()));
            }
            if (reply.state().status().isTerminal()) {
              reportTo.tell(new StateChanged(reply.state().status().json()));
              reportTo.tell(new CancelOutcome(true, "child run " + childId + " is " + reply.state().status().json()));
            } else {
              // cancelling: its process is being stopped; the delegation ends when the child does
              // (the entity's cancel-wait bounds that)
              await(ctx, childId);
            }
            return Behaviors.same();
          })
          .build();
    });
  }

  private void cancel(ActorContext<Command> ctx, String childId) {
    ctx.pipeToSelf(runs.cancel(childId, "its delegation was cancelled"), CancelAnswered::new);
  }

  private void look(ActorContext<Command> ctx, String childId) {
    ctx.pipeToSelf(runs.get(childId), Looked::new);
  }

  private void await(ActorContext<Command> ctx, String childId) {
    CompletionStage<RunEntity.Reply> end = runs.awaitTerminal(childId, watch)
        .exceptionallyCompose(e -> runs.get(childId));
    ctx.pipeToSelf(end, Looked::new);
  }

  /** A child's end, as the delegation's: success completes it; anything else fails it, saying why. */
  private static Report ended(RunState child) {
    ExitInfo exit = child.exit();
    DelegationResult.ChildOutcome outcome = new DelegationResult.ChildOutcome(child.runId(), child.status().json(),
        exit == null ? null : exit.code(), exit == null ? null : exit.signal());
    if (child.status() == RunStatus.SUCCEEDED) {
      return new Completed(new DelegationResult(java.util.List.of(), outcome, false));
    }
    String how = "child run " + child.runId() + " ended " + child.status().json()
        + (exit == null ? "" : " (" + (exit.code() != null ? "exit " + exit.code() : exit.signal() != null ? "signal " + exit.signal() : exit.reason()) + ")");
    return switch (child.status()) {
      case CANCELLED -> new Failed("child_cancelled", how);
      case TIMED_OUT -> new Failed("child_timed_out", how);
      default -> new Failed("child_failed", how);
    };
  }
}
