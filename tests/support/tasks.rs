//! postdesk's deadline scheduler and outbox worker, as `postdesk run` starts them, on a
//! test's own `Shared` (and its moved clock), for end-to-end tests against the real Postfix.

use std::sync::Arc;
use std::time::Duration;

use postdesk::daemon::{deadlines as scheduler, outbox};
use postdesk::runtime::Shared;
use postdesk::smtp::Mailer;
use postdesk::text::templates::Templates;
use tokio::sync::watch;

/// The scheduler and the outbox worker of `postdesk run`, on `shared`.
pub struct Tasks {
    stop: watch::Sender<bool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

pub fn start_tasks(runtime: &tokio::runtime::Runtime, shared: &Shared) -> Tasks {
    let (stop, stopped) = watch::channel(false);
    // lettre's connection pool belongs to the runtime it is made in.
    let _runtime = runtime.enter();
    let mailer = Mailer::new(shared.config.smtp.as_ref().unwrap()).unwrap();
    let templates = Arc::new(Templates::load(None).unwrap());
    let handles = vec![
        runtime.spawn(scheduler::run_deadlines(shared.clone(), stopped.clone())),
        runtime.spawn(outbox::run_outbox(
            shared.clone(),
            mailer,
            templates,
            stopped,
        )),
    ];
    Tasks { stop, handles }
}

impl Tasks {
    pub fn stop(self, runtime: &tokio::runtime::Runtime) {
        self.stop.send(true).unwrap();
        for handle in self.handles {
            runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(20), handle).await })
                .expect("task stops")
                .unwrap();
        }
    }
}
