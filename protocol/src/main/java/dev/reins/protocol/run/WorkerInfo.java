package dev.reins.protocol.run;

/**
 * Where the current attempt runs: the cluster node, the OS pid and the serialized actor ref of the
 * worker that owns the process (so a recovered entity can talk to, and watch, the exact worker).
 */
public record WorkerInfo(String node, long pid, String workerRef) {}
