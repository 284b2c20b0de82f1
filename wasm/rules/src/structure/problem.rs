//! The kinds of structure finding, with their English and Arabic messages and hints.

/// What went wrong; each kind has its message, Arabic message and hint.
#[derive(Debug, Clone, Copy)]
pub(super) enum Problem {
    Root,
    Missing,
    OutOfOrder,
    TooMany,
    Unexpected,
    TextInAggregate,
    ElementInValue,
    BadValue,
    MissingAttribute,
    UnknownAttribute,
    BadAttribute,
    Undeclared,
}

impl Problem {
    pub(super) fn texts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Root => (
                "the root element is not a UBL 2.1 Invoice (ZATCA uses Invoice for invoices, credit and debit notes)",
                "العنصر الجذري ليس فاتورة UBL 2.1 ‏(Invoice)؛ تستخدم هيئة الزكاة عنصر Invoice للفواتير والإشعارات الدائنة والمدينة.",
                "use <Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\">",
            ),
            Self::Missing => (
                "a mandatory element of the UBL 2.1 schema is missing",
                "ينقص عنصر إلزامي في مخطط UBL 2.1.",
                "add the element at the position the UBL 2.1 schema gives it",
            ),
            Self::OutOfOrder => (
                "an element is out of the order the UBL 2.1 schema requires",
                "عنصر في غير الترتيب الذي يفرضه مخطط UBL 2.1.",
                "move the element: UBL fixes the order of an element's children",
            ),
            Self::TooMany => (
                "an element occurs more often than the UBL 2.1 schema allows",
                "يتكرر عنصر أكثر مما يسمح به مخطط UBL 2.1.",
                "keep a single occurrence of the element",
            ),
            Self::Unexpected => (
                "an element is not allowed here by the UBL 2.1 schema",
                "عنصر غير مسموح به في هذا الموضع وفق مخطط UBL 2.1.",
                "check the element's name, namespace prefix and parent",
            ),
            Self::TextInAggregate => (
                "an aggregate element contains text; the UBL 2.1 schema allows only elements in it",
                "يحتوي عنصر تجميعي على نص، ولا يسمح مخطط UBL 2.1 فيه إلا بالعناصر.",
                "remove the text or move it into the basic element it belongs to",
            ),
            Self::ElementInValue => (
                "a basic element contains elements; the UBL 2.1 schema allows only a value in it",
                "يحتوي عنصر أساسي على عناصر، ولا يسمح مخطط UBL 2.1 فيه إلا بقيمة.",
                "check the nesting: the child belongs to the enclosing aggregate",
            ),
            Self::BadValue => (
                "a value does not have the data type the UBL 2.1 schema requires",
                "قيمة لا تطابق نوع البيانات الذي يفرضه مخطط UBL 2.1.",
                "write decimals as 123.45, dates as YYYY-MM-DD, times as HH:MM:SS, date-times as YYYY-MM-DDTHH:MM:SS, indicators as true or false",
            ),
            Self::MissingAttribute => (
                "a required attribute is missing",
                "تنقص سمة إلزامية.",
                "amounts need currencyID, measures unitCode, binary objects mimeCode; signature methods and transforms Algorithm, xades:QualifyingProperties Target",
            ),
            Self::UnknownAttribute => (
                "an attribute is not allowed on this element by the UBL 2.1 schema",
                "سمة غير مسموح بها على هذا العنصر وفق مخطط UBL 2.1.",
                "remove the attribute or check its name",
            ),
            Self::BadAttribute => (
                "an attribute value does not have the data type the UBL 2.1 schema requires",
                "قيمة سمة لا تطابق نوع البيانات الذي يفرضه مخطط UBL 2.1.",
                "languageID is a language code such as ar or en; an Id is a name (a letter first, no colon or space) used once in the document; a URI has at most one # and escapes % as %25",
            ),
            Self::Undeclared => (
                "an element the schema admits only with a declaration has none",
                "عنصر لا يقبله المخطط إلا إذا كان معرّفًا فيه، وليس له تعريف.",
                "check the element's name and namespace: here only elements the UBL 2.1 schemas declare are allowed",
            ),
        }
    }
}

/// The English and Arabic messages and the hint of every kind of structure finding, for
/// documentation and for the tests that check each has both messages.
#[cfg(test)]
pub(super) fn all_problems() -> [Problem; 12] {
    use Problem::*;
    [
        Root,
        Missing,
        OutOfOrder,
        TooMany,
        Unexpected,
        TextInAggregate,
        ElementInValue,
        BadValue,
        MissingAttribute,
        UnknownAttribute,
        BadAttribute,
        Undeclared,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_has_both_messages_and_a_hint() {
        for p in all_problems() {
            let (en, ar, hint) = p.texts();
            assert!(!en.is_empty() && !ar.is_empty() && !hint.is_empty(), "{p:?}");
        }
    }
}
