//! The supervisor of the playground's own servers: `./start.sh` builds, checks the
//! certificates and starts the outside programs (Keycloak, nginx) with their driver scripts,
//! then hands over to the `supervisor` binary ([`up`]), which starts the embedded provider
//! and the resource server(s) in-process, waits until they answer, runs the walkthrough or
//! shows a lab, and stops them on exit, failure or Ctrl-C.
//!
//! - [`servers`]: the one way of starting the servers, shared with the client's tests.
//! - [`thread`]: a server on a thread of its own, logging to its own file.
//! - [`up`]: the command: arguments, set-up phases 3 and 4, walkthrough or lab, keep running.

pub mod servers;
pub mod thread;
pub mod up;
