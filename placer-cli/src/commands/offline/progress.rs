//! A progress bar for long offline work, drawn on stderr only when stderr is
//! a terminal, so piped or redirected output never carries it.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Replays shorter than this finish too fast for a bar to help.
pub(super) const MIN_TICKS_FOR_BAR: usize = 2_000;

/// A bar, or nothing when stderr is not a terminal or the work is short.
pub(super) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar over `total` units of `unit`, labelled `label`, when `total` is
    /// at least `minimum` and stderr is a terminal.
    pub(super) fn new(label: &str, unit: &str, total: usize, minimum: usize) -> Self {
        let visible = total >= minimum && std::io::stderr().is_terminal();
        let bar = visible.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            let template = format!("{{msg}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{eta}} left)");
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_owned());
            bar
        });
        Progress { bar }
    }

    /// A spinner labelled `label` for work of unknown length, turning on its
    /// own, when `size` is at least `minimum` and stderr is a terminal.
    pub(super) fn spinner(label: &str, size: usize, minimum: usize) -> Self {
        let visible = size >= minimum && std::io::stderr().is_terminal();
        let bar = visible.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.set_message(label.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar }
    }

    /// Records that `done` units are finished.
    pub(super) fn set(&self, done: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
        }
    }

    /// Removes the bar, leaving the terminal as it was.
    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An early return on an error must not leave a half-drawn bar.
        self.finish();
    }
}
