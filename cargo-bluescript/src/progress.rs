//! Flashing's progress as a person sees it: a bar per phase (erase, program,
//! verify) with bytes and rate on a terminal; plain status lines, one when a
//! phase starts and one when it ends, anywhere else (a log, CI).

use crate::connection::{FlashEvent, FlashPhase};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Shows [`FlashEvent`]s.
pub struct FlashProgressView {
    phases: Vec<Phase>,
    view: View,
}

enum View {
    Bars(MultiProgress),
    Lines(Box<dyn Write + Send>),
}

struct Phase {
    phase: FlashPhase,
    total: Option<u64>,
    done: u64,
    started: Option<Instant>,
    bar: Option<ProgressBar>,
}

impl FlashProgressView {
    /// Bars when stderr is a terminal, lines otherwise.
    pub fn for_stderr() -> FlashProgressView {
        if std::io::stderr().is_terminal() {
            FlashProgressView {
                phases: Vec::new(),
                view: View::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            }
        } else {
            FlashProgressView::lines(Box::new(std::io::stderr()))
        }
    }

    /// Plain lines on `out`.
    pub fn lines(out: Box<dyn Write + Send>) -> FlashProgressView {
        FlashProgressView {
            phases: Vec::new(),
            view: View::Lines(out),
        }
    }

    pub fn event(&mut self, event: FlashEvent) {
        match event {
            FlashEvent::Planned { phase, total } => {
                let bar = match &self.view {
                    View::Bars(bars) => Some(bars.add(new_bar(phase, total))),
                    View::Lines(_) => None,
                };
                self.phases.push(Phase {
                    phase,
                    total,
                    done: 0,
                    started: None,
                    bar,
                });
            }
            FlashEvent::Started(phase) => {
                let state = self.phase(phase);
                state.started = Some(Instant::now());
                let total = state.total;
                if let Some(bar) = &state.bar {
                    bar.reset_elapsed();
                    bar.tick();
                }
                self.line(&format!("{:>12} {}", phase.doing(), size_of(total)));
            }
            FlashEvent::Progress { phase, bytes } => {
                let state = self.phase(phase);
                state.done += bytes;
                if let Some(bar) = &state.bar {
                    bar.inc(bytes);
                }
            }
            FlashEvent::Finished(phase) => {
                let state = self.phase(phase);
                let elapsed = state.started.map_or(Duration::ZERO, |at| at.elapsed());
                let line = finished_line(phase, state.done, elapsed);
                match state.bar.take() {
                    Some(bar) => bar.finish(),
                    None => self.line(&line),
                }
            }
            FlashEvent::Failed(phase) => {
                let state = self.phase(phase);
                let line = failed_line(phase, state.done, state.total);
                if let Some(bar) = state.bar.take() {
                    bar.abandon();
                }
                self.line(&line);
            }
            FlashEvent::Message(message) => self.line(&format!("{:>12} {message}", "Note")),
        }
    }

    /// The phase's state, made on its first mention if no `Planned` came.
    fn phase(&mut self, phase: FlashPhase) -> &mut Phase {
        let index = match self.phases.iter().position(|p| p.phase == phase) {
            Some(index) => index,
            None => {
                self.event(FlashEvent::Planned { phase, total: None });
                self.phases.len() - 1
            }
        };
        &mut self.phases[index]
    }

    /// A line of its own: above the bars, or on the output.
    fn line(&mut self, line: &str) {
        match &mut self.view {
            View::Bars(bars) => {
                let _ = bars.println(line);
            }
            View::Lines(out) => {
                let _ = writeln!(out, "{line}");
            }
        }
    }
}

impl FlashPhase {
    fn doing(self) -> &'static str {
        match self {
            FlashPhase::Read => "Reading",
            FlashPhase::Erase => "Erasing",
            FlashPhase::Program => "Programming",
            FlashPhase::Verify => "Verifying",
        }
    }

    fn done(self) -> &'static str {
        match self {
            FlashPhase::Read => "Read",
            FlashPhase::Erase => "Erased",
            FlashPhase::Program => "Programmed",
            FlashPhase::Verify => "Verified",
        }
    }
}

fn new_bar(phase: FlashPhase, total: Option<u64>) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::no_length(),
    };
    let style = ProgressStyle::with_template(
        "{prefix:>12.cyan.bold} [{bar:30}] {bytes:>9}/{total_bytes:<9} {binary_bytes_per_sec:>11} {elapsed:>3}",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(phase.doing());
    bar
}

/// `4.0 KiB`, or nothing when unknown.
fn size_of(bytes: Option<u64>) -> String {
    bytes.map(kib).unwrap_or_default()
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn finished_line(phase: FlashPhase, bytes: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        format!(" ({:.1} KiB/s)", bytes as f64 / 1024.0 / seconds)
    } else {
        String::new()
    };
    format!(
        "{:>12} {} in {seconds:.2} s{rate}",
        phase.done(),
        kib(bytes)
    )
}

fn failed_line(phase: FlashPhase, done: u64, total: Option<u64>) -> String {
    let of = total.map(|t| format!(" of {}", kib(t))).unwrap_or_default();
    format!(
        "{:>12} {} after {}{of}",
        "Failed",
        phase.doing().to_lowercase(),
        kib(done)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer the test reads afterwards.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn without_a_terminal_each_phase_is_two_plain_lines() {
        let out = Captured::default();
        let mut view = FlashProgressView::lines(Box::new(out.clone()));
        for phase in [FlashPhase::Erase, FlashPhase::Program, FlashPhase::Verify] {
            view.event(FlashEvent::Planned {
                phase,
                total: Some(8192),
            });
        }
        for phase in [FlashPhase::Erase, FlashPhase::Program, FlashPhase::Verify] {
            view.event(FlashEvent::Started(phase));
            view.event(FlashEvent::Progress { phase, bytes: 4096 });
            view.event(FlashEvent::Progress { phase, bytes: 4096 });
            view.event(FlashEvent::Finished(phase));
        }
        let text = out.text();
        let lines: Vec<_> = text.lines().map(str::trim_start).collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert_eq!(lines[0], "Erasing 8.0 KiB");
        assert!(lines[1].starts_with("Erased 8.0 KiB in "), "{text}");
        assert_eq!(lines[2], "Programming 8.0 KiB");
        assert!(lines[3].starts_with("Programmed 8.0 KiB in "), "{text}");
        assert!(lines[5].starts_with("Verified 8.0 KiB in "), "{text}");
        assert!(
            !text.contains('\x1b'),
            "no terminal codes in a log: {text:?}"
        );
    }

    #[test]
    fn a_failed_phase_says_how_far_it_got() {
        let out = Captured::default();
        let mut view = FlashProgressView::lines(Box::new(out.clone()));
        view.event(FlashEvent::Planned {
            phase: FlashPhase::Program,
            total: Some(65536),
        });
        view.event(FlashEvent::Started(FlashPhase::Program));
        view.event(FlashEvent::Progress {
            phase: FlashPhase::Program,
            bytes: 12288,
        });
        view.event(FlashEvent::Failed(FlashPhase::Program));
        view.event(FlashEvent::Message("flash algorithm: timeout".into()));
        let text = out.text();
        assert!(
            text.contains("Failed programming after 12.0 KiB of 64.0 KiB"),
            "{text}"
        );
        assert!(text.contains("Note flash algorithm: timeout"), "{text}");
    }

    #[test]
    fn an_unplanned_phase_is_still_shown() {
        let out = Captured::default();
        let mut view = FlashProgressView::lines(Box::new(out.clone()));
        view.event(FlashEvent::Started(FlashPhase::Verify));
        view.event(FlashEvent::Progress {
            phase: FlashPhase::Verify,
            bytes: 2048,
        });
        view.event(FlashEvent::Finished(FlashPhase::Verify));
        assert!(out.text().contains("Verified 2.0 KiB in"), "{}", out.text());
    }

    #[test]
    fn the_rate_is_bytes_over_time() {
        let line = finished_line(FlashPhase::Program, 64 * 1024, Duration::from_millis(500));
        assert_eq!(
            line.trim_start(),
            "Programmed 64.0 KiB in 0.50 s (128.0 KiB/s)"
        );
        let instant = finished_line(FlashPhase::Erase, 0, Duration::ZERO);
        assert_eq!(instant.trim_start(), "Erased 0.0 KiB in 0.00 s");
    }
}
