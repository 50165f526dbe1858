package dev.reins.runtime.worker;

import dev.reins.runtime.CborSerializable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.stream.SourceRef;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.StreamRefs;
import org.apache.pekko.util.ByteString;

/**
 * Serves attempt logs across the cluster. An attempt's output stays on the disk of the node that
 * ran it; any node's {@code /logs} asks its own log server, which answers from its disk or asks the
 * log server of the node named, and the bytes come back as a stream reference (Pekko StreamRefs:
 * chunked, with back-pressure, never one message of up to the log cap).
 */
public final class LogServer {
  public static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "reins-log-server");

  /** Chunks of a log on the wire: well under Artery's default maximum frame size. */
  private static final int CHUNK = 64 * 1024;

  private LogServer() {}

  public sealed interface Command extends CborSerializable {}

  /**
   * The last {@code tailBytes} of an attempt's output, from {@code node} (a cluster address as in
   * {@code WorkerInfo.node}).
   */
  public record Fetch(String node, String runId, int attempt, int tailBytes, ActorRef<Reply> replyTo) implements Command {}

  /** {@code log} when the node has output for the attempt; {@code detail} otherwise. */
  public record Reply(SourceRef<ByteString> log, Outcome outcome, String detail) implements CborSerializable {}

  public enum Outcome {
    FOUND,
    NO_OUTPUT,
    NODE_GONE
  }

  /** From a node's log server to the one whose disk has the log (crosses the network). */
  record Serve(String runId, int attempt, int tailBytes, ActorRef<Reply> replyTo) implements Command {}

  private record Peers(Receptionist.Listing listing) implements Command {}

  public static Behavior<Command> create(Path dataDir) {
    return Behaviors.setup(ctx -> {
      ctx.getSystem().receptionist().tell(Receptionist.register(KEY, ctx.getSelf()));
      ctx.getSystem().receptionist().tell(Receptionist.subscribe(KEY, ctx.messageAdapter(Receptionist.Listing.class, Peers::new)));
      String self = Cluster.get(ctx.getSystem()).selfMember().address().toString();
      List<ActorRef<Command>> peers = new ArrayList<>();
      return Behaviors.receive(Command.class)
          .onMessage(Peers.class, p -> {
            Set<ActorRef<Command>> all = p.listing().getServiceInstances(KEY);
            peers.clear();
            peers.addAll(all);
            return Behaviors.same();
          })
          .onMessage(Fetch.class, f -> {
            if (f.node() == null || f.node().equals(self)) {
              ctx.getSelf().tell(new Serve(f.runId(), f.attempt(), f.tailBytes(), f.replyTo()));
              return Behaviors.same();
            }
            Optional<ActorRef<Command>> there =
                peers.stream().filter(r -> r.path().address().toString().equals(f.node())).findFirst();
            if (there.isEmpty()) {
              f.replyTo().tell(new Reply(null, Outcome.NODE_GONE,
                  "attempt " + f.attempt() + " ran on " + f.node() + ", which is not in the cluster now; its output is on that node's disk"));
            } else {
              there.get().tell(new Serve(f.runId(), f.attempt(), f.tailBytes(), f.replyTo()));
            }
            return Behaviors.same();
          })
          .onMessage(Serve.class, s -> {
            Optional<byte[]> tail;
            try {
              tail = AttemptLog.tail(dataDir, s.runId(), s.attempt(), s.tailBytes());
            } catch (IOException e) {
              ctx.getLog().warn("cannot read the log of run {} attempt {}: {}", s.runId(), s.attempt(), e.toString());
              tail = Optional.empty();
            }
            if (tail.isEmpty()) {
              s.replyTo().tell(new Reply(null, Outcome.NO_OUTPUT, "attempt " + s.attempt() + " has no output (yet)"));
              return Behaviors.same();
            }
            ByteString bytes = ByteString.fromArrayUnsafe(tail.get());
            List<ByteString> chunks = new ArrayList<>();
            for (int from = 0; from < bytes.size(); from += CHUNK) {
              chunks.add(bytes.slice(from, Math.min(bytes.size(), from + CHUNK)));
            }
            ActorRef<Reply> replyTo = s.replyTo();
            SourceRef<ByteString> ref = Source.from(chunks).runWith(StreamRefs.sourceRef(), ctx.getSystem());
            replyTo.tell(new Reply(ref, Outcome.FOUND, null));
            return Behaviors.same();
          })
          .build();
    });
  }
}
