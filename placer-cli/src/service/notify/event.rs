//! The document a webhook is sent: one action a tick carried out (or, in
//! dry run, would have) — a deploy, a remove or a resize — or one tick
//! that failed.

use placer_core::report::FailedStage;
use placer_core::{
    ActionOutcome, Change, MachineCount, Move, Outcome, Region, ResizeOutcome, TickReport,
    Timestamp,
};
use serde::Serialize;

use crate::runtime::TickError;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A deploy, remove or resize a tick decided on, with its outcome.
    Action,
    /// A tick that could not observe or plan, or did not run at all.
    TickFailed,
}

/// One notification. Every key is always there (`null` when it does not
/// apply), so a receiver reads one shape; a resize adds `from` and `to`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// `action` or `tick_failed`.
    pub event: EventKind,
    /// The app.
    pub app: String,
    /// `deploy`, `remove` or `resize`; `null` for a failed tick.
    pub action: Option<Change>,
    /// The region acted on; `null` for a failed tick.
    pub region: Option<Region>,
    /// Why: the policy's reason for an action, the step that failed for a
    /// failed tick.
    pub reason: String,
    /// The reason's class (as `fly_placer_skips_total` names them) for a
    /// deploy or remove, `sizing` for a resize; the failed step for a
    /// failed tick (`fetching_traffic`, `listing_deployment`,
    /// `reading_state`, `crashed`).
    pub reason_class: &'static str,
    /// `ok`, `dry_run` (planned, not carried out), `failed` or `skipped`
    /// (refused on purpose); always `failed` for a failed tick.
    pub outcome: &'static str,
    /// The error of a failed action or tick, or why an action was skipped.
    pub detail: Option<String>,
    /// Whether the tick was a dry run.
    pub dry_run: bool,
    /// The tick's time (RFC 3339, UTC).
    pub at: Timestamp,
    /// The same in one line, for chat (Slack's incoming webhooks read it).
    pub text: String,
    /// A resize's machines before (`{"running", "standby"}`); left out of
    /// other documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<MachineCount>,
    /// A resize's machines after; left out of other documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<MachineCount>,
}

impl Event {
    /// One event per action of `report` (its deploys and removes, then
    /// its resizes), or one for the tick when it failed.
    pub fn of_report(app: &str, report: &TickReport) -> Vec<Event> {
        if let Some(error) = &report.error {
            let (reason, class) = match error.stage() {
                FailedStage::FetchingTraffic => ("fetching traffic failed", "fetching_traffic"),
                FailedStage::ListingDeployment => {
                    ("listing deployed regions failed", "listing_deployment")
                }
                _ => ("the tick failed", "tick"),
            };
            return vec![Event::tick_failed(
                app,
                reason,
                class,
                error.cause().to_string(),
                report.dry_run,
                report.at,
            )];
        }
        let actions = report
            .actions
            .iter()
            .map(|action| Event::action(app, action, report.dry_run, report.at));
        let resizes = report
            .resizes()
            .map(|resize| Event::resize(app, resize, report.dry_run, report.at));
        actions.chain(resizes).collect()
    }

    /// The event of a tick that did not run for `error`; `None` for the
    /// errors that are no failure (shutting down, another placer leads).
    pub fn of_tick_not_run(
        app: &str,
        error: &TickError,
        dry_run: bool,
        at: Timestamp,
    ) -> Option<Event> {
        let (reason, class, detail) = match error {
            TickError::ShuttingDown | TickError::NotLeader(_) => return None,
            TickError::Crashed(detail) => ("the tick stopped unexpectedly", "crashed", detail),
            TickError::StateUnavailable(detail) => (
                "the engine state could not be read",
                "reading_state",
                detail,
            ),
        };
        Some(Event::tick_failed(
            app,
            reason,
            class,
            detail.clone(),
            dry_run,
            at,
        ))
    }

    fn tick_failed(
        app: &str,
        reason: &str,
        class: &'static str,
        detail: String,
        dry_run: bool,
        at: Timestamp,
    ) -> Event {
        let text = format!(
            "fly-placer: {app}{}: tick failed: {reason}: {detail}",
            mode(dry_run)
        );
        Event {
            event: EventKind::TickFailed,
            app: app.to_owned(),
            action: None,
            region: None,
            reason: reason.to_owned(),
            reason_class: class,
            outcome: "failed",
            detail: Some(detail),
            dry_run,
            at,
            text: chat_text(&text),
            from: None,
            to: None,
        }
    }

    fn action(app: &str, action: &ActionOutcome, dry_run: bool, at: Timestamp) -> Event {
        let decision = &action.decision;
        let (region, step) = (decision.region, decision.action);
        let (outcome, detail) = outcome_and_detail(&action.outcome);
        let done = match (&action.outcome, step) {
            (Outcome::Ok, Move::Deploy) => format!("deployed {region}"),
            (Outcome::Ok, Move::Remove) => format!("removed {region}"),
            (Outcome::DryRun, _) => format!("would {step} {region}"),
            (_, _) => format!("{step} {region} {outcome}"),
        };
        let detail_text = detail
            .as_deref()
            .map_or_else(String::new, |detail| format!(": {detail}"));
        let reason = decision.reason.to_string();
        let text = format!(
            "fly-placer: {app}{}: {done}{detail_text} ({reason})",
            mode(dry_run)
        );
        Event {
            event: EventKind::Action,
            app: app.to_owned(),
            action: Some(step.into()),
            region: Some(region),
            reason,
            reason_class: decision.reason.class(),
            outcome,
            detail,
            dry_run,
            at,
            text: chat_text(&text),
            from: None,
            to: None,
        }
    }

    fn resize(app: &str, resize: &ResizeOutcome, dry_run: bool, at: Timestamp) -> Event {
        let region = resize.region;
        let (outcome, detail) = outcome_and_detail(&resize.outcome);
        let counts = resize.counts();
        let done = match &resize.outcome {
            Outcome::Ok => format!("scaled {region} {counts}"),
            Outcome::DryRun => format!("would scale {region} {counts}"),
            _ => format!("scaling {region} {counts} {outcome}"),
        };
        let detail_text = detail
            .as_deref()
            .map_or_else(String::new, |detail| format!(": {detail}"));
        let text = format!(
            "fly-placer: {app}{}: {done}{detail_text} ({})",
            mode(dry_run),
            resize.reason
        );
        Event {
            event: EventKind::Action,
            app: app.to_owned(),
            action: Some(Change::Resize),
            region: Some(region),
            reason: resize.reason.clone(),
            reason_class: "sizing",
            outcome,
            detail,
            dry_run,
            at,
            text: chat_text(&text),
            from: Some(resize.from),
            to: Some(resize.to),
        }
    }
}

/// An outcome's word in a document, and its error or why it was skipped.
fn outcome_and_detail(outcome: &Outcome) -> (&'static str, Option<String>) {
    match outcome {
        Outcome::Ok => ("ok", None),
        Outcome::DryRun => ("dry_run", None),
        Outcome::Failed(error) => ("failed", Some(error.to_string())),
        Outcome::Skipped(why) => ("skipped", Some(why.clone())),
        other => ("other", Some(format!("{other:?}"))),
    }
}

fn mode(dry_run: bool) -> &'static str {
    if dry_run {
        " (dry run)"
    } else {
        ""
    }
}

/// `text` as Slack reads it: `&`, `<` and `>` are its markup, so they are
/// written as the entities it shows as those characters.
fn chat_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use placer_core::report::TickError as ReportError;
    use placer_core::{ActuatorError, Decision, Reason};

    use super::*;

    fn report(dry_run: bool) -> TickReport {
        let json = serde_json::json!({
            "deployed": [], "removed": [], "skipped": [],
            "current_deployment": ["iad"], "updated_deployment": ["iad"],
            "at": "2026-12-07T19:00:00Z", "dry_run": dry_run, "policy": "threshold",
            "regions": {}, "actions": [], "error": null,
        });
        serde_json::from_value(json).unwrap()
    }

    fn region(code: &str) -> Region {
        code.parse().unwrap()
    }

    #[test]
    fn each_action_is_one_document() {
        let mut tick = report(false);
        tick.actions = vec![
            ActionOutcome::new(
                Decision::new(region("fra"), Move::Deploy, Reason::AlwaysRunningMissing),
                Outcome::Ok,
            ),
            ActionOutcome::new(
                Decision::new(region("syd"), Move::Deploy, Reason::AlwaysRunningMissing),
                Outcome::Failed(ActuatorError::Reported {
                    message: "capacity <none> & no retry".into(),
                }),
            ),
            ActionOutcome::new(
                Decision::new(region("lhr"), Move::Remove, Reason::NoData),
                Outcome::Skipped("the machine was not created by fly-placer".into()),
            ),
        ];
        insta::assert_json_snapshot!(Event::of_report("shop", &tick));
    }

    #[test]
    fn a_dry_run_action_is_marked() {
        let mut tick = report(true);
        tick.actions = vec![ActionOutcome::new(
            Decision::new(region("fra"), Move::Remove, Reason::LastRegion),
            Outcome::DryRun,
        )];
        insta::assert_json_snapshot!(Event::of_report("shop", &tick));
    }

    #[test]
    fn a_failed_tick_is_one_document() {
        let mut tick = report(false);
        tick.error = Some(ReportError::new(
            FailedStage::FetchingTraffic,
            "connection refused",
        ));
        insta::assert_json_snapshot!(Event::of_report("shop", &tick));
        let at = tick.at;
        let crashed =
            Event::of_tick_not_run("shop", &TickError::Crashed("boom".into()), true, at).unwrap();
        assert_eq!(
            (crashed.reason_class, crashed.outcome, crashed.dry_run),
            ("crashed", "failed", true)
        );
        assert!(Event::of_tick_not_run("shop", &TickError::ShuttingDown, false, at).is_none());
    }

    #[test]
    fn each_resize_is_one_document() {
        let mut tick = report(false);
        let reason = "5 machines for 380 requests per 5 min (90 per machine, 20 % headroom)";
        tick.resized = Some(vec![
            ResizeOutcome::new(
                region("iad"),
                MachineCount::new(3, 0),
                MachineCount::new(5, 0),
                reason,
                Outcome::Ok,
            ),
            ResizeOutcome::new(
                region("fra"),
                MachineCount::new(4, 1),
                MachineCount::new(2, 1),
                "2 machines for 150 requests per 5 min (90 per machine, 20 % headroom), 1 standby",
                Outcome::Failed(ActuatorError::Reported {
                    message: "HTTP 500".into(),
                }),
            ),
        ]);
        let events = Event::of_report("shop", &tick);
        assert_eq!(events[0].action, Some(Change::Resize));
        assert!(
            events[0].text.starts_with(
                "fly-placer: shop: scaled iad from 3 to 5 machines (5 machines for 380"
            ),
            "{}",
            events[0].text
        );
        insta::assert_json_snapshot!(events);
    }

    #[test]
    fn a_dry_run_resize_is_marked() {
        let mut tick = report(true);
        tick.resized = Some(vec![ResizeOutcome::new(
            region("iad"),
            MachineCount::new(1, 0),
            MachineCount::new(3, 0),
            "3 machines for 200 requests per 5 min (90 per machine, 20 % headroom)",
            Outcome::DryRun,
        )]);
        insta::assert_json_snapshot!(Event::of_report("shop", &tick));
    }

    #[test]
    fn a_tick_with_no_resize_sends_nothing() {
        let mut tick = report(false);
        tick.resized = Some(Vec::new());
        assert!(Event::of_report("shop", &tick).is_empty());
    }

    #[test]
    fn a_quiet_tick_sends_nothing() {
        assert!(Event::of_report("shop", &report(false)).is_empty());
    }
}
