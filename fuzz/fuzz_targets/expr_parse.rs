//! Any bytes: parsing, display, re-parsing, evaluation with a trace, and the
//! Ruby conversions never panic; display → parse is stable.
#![no_main]

use core::fmt::Write;
use libfuzzer_sys::fuzz_target;
use stamen_core::expr::{str_to_f, Expr, ParseError, RubyFloat};

/// A `fmt::Write` into a fixed array that fails when full.
struct Fixed {
    buf: [u8; 4096],
    len: usize,
}

impl Write for Fixed {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = core::str::from_utf8(data) else {
        let _ = stamen_core::expr::bytes_to_f(data);
        return;
    };
    let x = str_to_f(src);
    let mut out = Fixed { buf: [0; 4096], len: 0 };
    let _ = write!(out, "{}", RubyFloat(x));
    let mut resolve = |name: &str| -> Result<Option<f64>, ()> {
        match name.len() % 4 {
            0 => Ok(None),
            1 => Err(()),
            _ => Ok(Some(str_to_f(name))),
        }
    };
    match Expr::<'_, 64>::parse(src) {
        Ok(e) => {
            let mut trace = Fixed { buf: [0; 4096], len: 0 };
            let _ = e.eval_traced(&mut resolve, &mut trace);
            let _ = e.eval(&mut resolve);
            let mut shown = Fixed { buf: [0; 4096], len: 0 };
            if write!(shown, "{e}").is_ok() {
                let text = core::str::from_utf8(&shown.buf[..shown.len]).unwrap();
                let again = Expr::<'_, 64>::parse(text).expect("display re-parses");
                let (mut t1, mut t2) = (Fixed { buf: [0; 4096], len: 0 }, Fixed { buf: [0; 4096], len: 0 });
                let _ = write!(t1, "{}", e.tree());
                let _ = write!(t2, "{}", again.tree());
                assert_eq!(&t1.buf[..t1.len], &t2.buf[..t2.len]);
            }
        }
        Err(ParseError::Syntax(s)) => {
            assert!(s.index() <= src.len());
            let _ = write!(out, "{}", s.oneflow_trace());
        }
        Err(_) => {}
    }
});
