package dev.reins.deploy;

import dev.reins.protocol.api.ClusterView;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code reins cluster}: the members as the server sees them, and each node's worker slots. */
@Command(name = "cluster", description = "Show the cluster's members and their worker slots (GET /v1/cluster).")
final class ClusterCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin ApiOptions api;
  @Mixin Output output;

  @Override
  public Integer call() {
    ClusterView cluster = api.client().cluster();
    if (output.json) {
      output.json(spec, cluster);
      return 0;
    }
    Output.Table table = new Output.Table("NODE", "STATUS", "REACHABLE", "SLOTS", "BUSY", "QUEUED", "ROLES");
    for (ClusterView.Member m : cluster.members()) {
      String node = m.address() + (m.self() ? " (this)" : "") + (m.address().equals(cluster.leader()) ? " (leader)" : "");
      ClusterView.Slots s = m.slots();
      table.row(node, m.status() + (s != null && s.draining() ? ", draining" : ""), m.reachable() ? "yes" : "no",
          s == null ? "?" : Integer.toString(s.total()), s == null ? "?" : Integer.toString(s.busy()),
          s == null ? "?" : Integer.toString(s.queued()), String.join(",", m.roles()));
    }
    table.print(spec.commandLine().getOut());
    return 0;
  }
}
