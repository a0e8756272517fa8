import ServiceLifecycle

/// Waits `duration`, or less when the task is cancelled or a graceful shutdown begins: a service
/// pausing between polls or retries must not hold up the agent's stop.
func pause(_ duration: Duration) async {
    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
}
