//! Typed ids of the run's objects, and the arenas they index.
//!
//! A Machine, a host and an app are each named by a small integer that is its position in
//! its arena; the newtypes keep one kind of id from being used for another, and
//! [`Arena`] is indexed by its own id type only. Machines are appended when created during
//! a run and never removed (a destroyed Machine stays, in state `destroyed`), so an id is
//! never reused.

use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($repr:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $repr);

        impl $name {
            /// The position in its arena.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }

            /// The id at position `i`.
            #[inline]
            pub fn at(i: usize) -> Self {
                $name(i as $repr)
            }
        }

        impl ArenaId for $name {
            fn index(self) -> usize {
                self.0 as usize
            }
            fn at(i: usize) -> Self {
                $name(i as $repr)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A Machine of the run: its position among all Machines, in creation order.
    MachineId(u32)
);
id_type!(
    /// A host: its position among the scenario's hosts, by region then declaration order.
    HostId(u32)
);
id_type!(
    /// An app: its position among the scenario's apps.
    AppId(u16)
);

/// Items indexed by their id type `I`.
#[derive(Debug)]
pub struct Arena<I, T> {
    items: Vec<T>,
    id: PhantomData<I>,
}

impl<I, T> Default for Arena<I, T> {
    fn default() -> Self {
        Arena {
            items: Vec::new(),
            id: PhantomData,
        }
    }
}

/// What an arena needs of its id type.
pub trait ArenaId: Copy {
    /// The position in the arena.
    fn index(self) -> usize;
    /// The id at position `i`.
    fn at(i: usize) -> Self;
}

impl<I: ArenaId, T> Arena<I, T> {
    /// Appends `item`; returns its id.
    pub fn push(&mut self, item: T) -> I {
        self.items.push(item);
        I::at(self.items.len() - 1)
    }

    /// How many items there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items, in id order.
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }

    /// The items with their ids, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (I, &T)> {
        self.items.iter().enumerate().map(|(i, t)| (I::at(i), t))
    }

    /// Every id, in order.
    pub fn ids(&self) -> impl Iterator<Item = I> + use<I, T> {
        (0..self.items.len()).map(I::at)
    }
}

impl<I: ArenaId, T> Index<I> for Arena<I, T> {
    type Output = T;
    #[inline]
    fn index(&self, id: I) -> &T {
        &self.items[id.index()]
    }
}

impl<I: ArenaId, T> IndexMut<I> for Arena<I, T> {
    #[inline]
    fn index_mut(&mut self, id: I) -> &mut T {
        &mut self.items[id.index()]
    }
}

impl<I, T> FromIterator<T> for Arena<I, T> {
    fn from_iter<It: IntoIterator<Item = T>>(it: It) -> Self {
        Arena {
            items: it.into_iter().collect(),
            id: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positions_in_push_order() {
        let mut a: Arena<MachineId, &str> = Arena::default();
        assert_eq!(a.push("web:0"), MachineId(0));
        assert_eq!(a.push("web:1"), MachineId(1));
        assert_eq!(a[MachineId(1)], "web:1");
        a[MachineId(0)] = "api:0";
        let all: Vec<_> = a.iter().collect();
        assert_eq!(
            all,
            vec![(MachineId(0), &"api:0"), (MachineId(1), &"web:1")]
        );
        assert_eq!(
            a.ids().collect::<Vec<_>>(),
            vec![MachineId(0), MachineId(1)]
        );
    }
}
