/** Whether a heal may restart pods: the configuration allows it, a request may only narrow that. Pure. */

/**
 * Whether a heal restarts pods: as configured (RESTART_STUCK_PODS), unless the request says
 * not this time. A request asking for it when the configuration does not allow it is refused
 * (the message says so; the caller throws it before anything is written).
 */
export function restartDecision(configured: boolean, requested: boolean | undefined): { enabled: boolean } | { refused: string } {
  if (requested === true && !configured)
    return { refused: "restartPods (--restart-pods) asks for pod restarts, but the configuration does not allow them: set RESTART_STUCK_PODS=true" };
  return { enabled: requested === false ? false : configured };
}
