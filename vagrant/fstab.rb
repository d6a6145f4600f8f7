# frozen_string_literal: true

# labctl: once a new container answers on SSH, Vagrant's synced-folder step
# asks the guest to write the synced folders' mounts into /etc/fstab (guest
# capability persist_mount_shared_folder). With no synced folder at all (the
# rendered Vagrantfile disables /vagrant and adds none) Vagrant's Linux
# capability still runs three commands over SSH per machine: `test -f
# /etc/fstab`, a sed that deletes Vagrant's block, and an echo that appends an
# empty one. On docker each node is a new container from labctl's node image,
# whose /etc/fstab holds no block of Vagrant's, so the three commands change
# nothing of use, yet every one is SSH work on the Ruby lock all machine
# threads share.
#
# This file, loaded by the rendered Vagrantfile on docker only (where the guest
# is pinned to :debian, the node image's), registers that capability for the
# debian guest, which Vagrant asks before its parent, linux: when Vagrant
# hands it synced folders and none of them is there, it returns at once.
# Anything else (a folder to persist, or nil: `allow_fstab_modification =
# false`, which asks for Vagrant's block to be removed) goes to Vagrant's own
# Linux capability unchanged.
module LabctlFstab
  # folders: { type => { id => options } }, as Vagrant's SyncedFolders step
  # passes them; nil is not "nothing" (see above).
  def self.nothing_to_persist?(folders)
    !folders.nil? && folders.values.all?(&:empty?)
  end

  # The capability Vagrant calls for a debian guest.
  class Cap
    def self.persist_mount_shared_folder(machine, folders)
      return if LabctlFstab.nothing_to_persist?(folders)

      unless defined?(VagrantPlugins::GuestLinux::Cap::PersistMountSharedFolder)
        require Vagrant.source_root.join('plugins/guests/linux/cap/persist_mount_shared_folder').to_s
      end
      VagrantPlugins::GuestLinux::Cap::PersistMountSharedFolder.persist_mount_shared_folder(machine, folders)
    end
  end

  # Registered with Vagrant when the Vagrantfile loads, before any machine
  # (and so its guest's table of capabilities) is made. Vagrant's own
  # capability is registered for linux, so a debian guest finds this first.
  class Plugin < Vagrant.plugin('2')
    name 'labctl fstab'
    description 'skips the /etc/fstab step of machines with no synced folder'

    guest_capability(:debian, :persist_mount_shared_folder) { Cap }
  end
end
